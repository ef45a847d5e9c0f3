"""API keys for automation: created with the secret shown once, listed, revoked, checked.

A key authenticates as its owner with the owner's *current* role; it stops working when
revoked, when it expires (every key does: by default after 90 days, at most after 365),
or when its owner is deactivated.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from jobyard_libs.auth import API_KEY_PREFIX, Principal, Role
from jobyard_libs.errors import NotFoundError, ValidationFailed
from jobyard_libs.mongo import Document

from jobyard_auth.api_keys.repository import ApiKeyRepository
from jobyard_auth.api_keys.schemas import ApiKeyCreated, ApiKeyIn, ApiKeyOut, IntrospectOut
from jobyard_auth.ids import parse_object_id
from jobyard_auth.users.service import UserNotFound, UserService


class ApiKeyNotFound(NotFoundError):
    message = "API key not found"


def to_api_key_out(doc: Document) -> ApiKeyOut:
    return ApiKeyOut(
        id=str(doc["_id"]),
        name=doc["name"],
        prefix=doc["prefix"],
        user_id=str(doc["userId"]),
        created_at=doc["createdAt"],
        expires_at=doc["expiresAt"],
        revoked_at=doc["revokedAt"],
    )


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyService:
    def __init__(
        self, repository: ApiKeyRepository, users: UserService, *, default_days: int, max_days: int
    ) -> None:
        self.repository = repository
        self.users = users
        self.default_days = default_days
        self.max_days = max_days

    async def create(self, owner: Principal, request: ApiKeyIn) -> ApiKeyCreated:
        days = request.expires_in_days or self.default_days
        if days > self.max_days:
            raise ValidationFailed(f"an API key lives at most {self.max_days} days", field="expiresInDays")
        user = await self.users.get(owner.subject)
        key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        expires_at = datetime.now(UTC) + timedelta(days=days)
        doc = await self.repository.insert(
            user_id=user["_id"],
            name=request.name,
            prefix=key[:11],
            key_hash=_hash(key),
            expires_at=expires_at,
        )
        return ApiKeyCreated(**to_api_key_out(doc).model_dump(), key=key)

    async def list(
        self, principal: Principal, *, everyone: bool, skip: int, limit: int
    ) -> tuple[list[Document], int]:
        owner = None if everyone and principal.is_admin else parse_object_id(principal.subject)
        return await self.repository.list(owner, skip, limit)

    async def revoke(self, principal: Principal, key_id: str) -> Document:
        oid = parse_object_id(key_id)
        doc = await self.repository.by_id(oid) if oid else None
        if doc is None or (str(doc["userId"]) != principal.subject and not principal.is_admin):
            raise ApiKeyNotFound()
        revoked = await self.repository.revoke(doc["_id"])
        return revoked or doc

    async def introspect(self, key: str) -> IntrospectOut:
        doc = await self.repository.by_hash(_hash(key)) if key.startswith(API_KEY_PREFIX) else None
        now = datetime.now(UTC)
        if doc is None or doc["revokedAt"] is not None:
            return IntrospectOut(active=False)
        # keys made before every key had an expiry live at most max_days from their creation
        expires = doc["expiresAt"] or doc["createdAt"] + timedelta(days=self.max_days)
        if expires <= now:
            return IntrospectOut(active=False)
        try:
            user = await self.users.get(doc["userId"])
        except UserNotFound:
            return IntrospectOut(active=False)
        if not user["active"]:
            return IntrospectOut(active=False)
        return IntrospectOut(
            active=True, subject=str(user["_id"]), role=Role(user["role"]), key_id=str(doc["_id"])
        )


class LocalApiKeyChecker:
    """The auth service checks API keys itself instead of asking itself over HTTP."""

    def __init__(self, service: ApiKeyService) -> None:
        self.service = service

    async def check(self, key: str) -> Principal | None:
        result = await self.service.introspect(key)
        if not result.active or result.subject is None or result.role is None:
            return None
        return Principal(result.subject, result.role, "api_key", result.key_id)
