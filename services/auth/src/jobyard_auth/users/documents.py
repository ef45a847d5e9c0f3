"""The ``users`` collection's document."""

from __future__ import annotations

from datetime import datetime

from jobyard_libs.auth import Role
from jobyard_libs.documents import StoredDocument
from jobyard_libs.mongo import utcnow
from pydantic import Field


class User(StoredDocument):
    email: str
    name: str
    password_hash: str | None = None
    role: Role = Role.USER
    active: bool = True
    email_verified: bool = False
    google_sub: str | None = None
    failed_sign_ins: int = 0  # consecutive failed password sign-ins (reset by a success or an unlock)
    sign_in_locked_at: datetime | None = None  # the password alone no longer signs in (an admin unlocks)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def google_linked(self) -> bool:
        return bool(self.google_sub)

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)

    @property
    def sign_in_locked(self) -> bool:
        return self.sign_in_locked_at is not None
