"""The ``refresh_tokens`` collection's document: a token's hash, never the token."""

from __future__ import annotations

from datetime import datetime

from jobyard_libs.documents import Oid, StoredDocument
from jobyard_libs.mongo import utcnow
from pydantic import Field


class RefreshToken(StoredDocument):
    id: str = Field(alias="_id")  # type: ignore[assignment]  # the token's SHA-256, not an ObjectId
    family_id: str
    family_started_at: datetime | None = None  # tokens stored before it was kept: createdAt
    user_id: Oid
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None
