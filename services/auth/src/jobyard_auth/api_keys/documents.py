"""The ``api_keys`` collection's document: the key's SHA-256, never the key."""

from __future__ import annotations

from datetime import datetime

from jobyard_libs.auth import KeyScope
from jobyard_libs.documents import Oid, StoredDocument
from jobyard_libs.mongo import utcnow
from pydantic import Field


class ApiKey(StoredDocument):
    user_id: Oid
    name: str
    prefix: str
    key_hash: str = Field(alias="hash")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None  # keys made before every key had one: createdAt + the maximum
    revoked_at: datetime | None = None
    # None: a key made before keys had scopes, which keeps what its owner's role allows
    scopes: list[KeyScope] | None = None
