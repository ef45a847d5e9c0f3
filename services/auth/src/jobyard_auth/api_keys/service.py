"""API keys for automation: created with the secret shown once, listed, revoked, checked.

A key authenticates as its owner with the owner's *current* role; it stops working when
revoked, when it expires (every key does: by default after 90 days, at most after 365),
or when its owner is deactivated.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from jobyard_libs.auth import API_KEY_PREFIX, Principal
from jobyard_libs.documents import Oid, parse_id
from jobyard_libs.errors import NotFoundError, ValidationFailed, found
from jobyard_libs.listing import Slice, Window

from jobyard_auth.api_keys.documents import ApiKey
from jobyard_auth.api_keys.repository import ApiKeyRepository
from jobyard_auth.api_keys.schemas import ApiKeyCreated, ApiKeyIn, ApiKeyOut, IntrospectOut
from jobyard_auth.users.service import UserNotFound, UserService


class ApiKeyNotFound(NotFoundError):
    message = "API key not found"


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
        user = await self.users.of_subject(owner.subject)
        key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        stored = await self.repository.insert(
            ApiKey(
                user_id=user.id,
                name=request.name,
                prefix=key[:11],
                key_hash=_hash(key),
                expires_at=datetime.now(UTC) + timedelta(days=days),
            )
        )
        return ApiKeyCreated(**ApiKeyOut.model_validate(stored).model_dump(), key=key)

    async def page(self, principal: Principal, window: Window, *, everyone: bool) -> Slice[ApiKey]:
        return await self.repository.page(None if everyone else self._owner(principal), window)

    @staticmethod
    def _owner(principal: Principal) -> Oid | None:
        """Whose keys the caller may see: their own, or (an admin) everyone's."""
        scope = principal.scope
        return None if scope is None else parse_id(scope)

    async def revoke(self, principal: Principal, key_id: Oid) -> ApiKey:
        key = found(await self.repository.get(key_id, self._owner(principal)), ApiKeyNotFound)
        return await self.repository.revoke(key.id) or key

    async def introspect(self, key: str) -> IntrospectOut:
        stored = await self.repository.by_hash(_hash(key)) if key.startswith(API_KEY_PREFIX) else None
        now = datetime.now(UTC)
        if stored is None or stored.revoked_at is not None:
            return IntrospectOut(active=False)
        # keys made before every key had an expiry live at most max_days from their creation
        expires = stored.expires_at or stored.created_at + timedelta(days=self.max_days)
        if expires <= now:
            return IntrospectOut(active=False)
        try:
            user = await self.users.get(stored.user_id)
        except UserNotFound:
            return IntrospectOut(active=False)
        if not user.active:
            return IntrospectOut(active=False)
        return IntrospectOut(active=True, subject=str(user.id), role=user.role, key_id=str(stored.id))


class LocalApiKeyChecker:
    """The auth service checks API keys itself instead of asking itself over HTTP."""

    def __init__(self, service: ApiKeyService) -> None:
        self.service = service

    async def check(self, key: str) -> Principal | None:
        result = await self.service.introspect(key)
        if not result.active or result.subject is None or result.role is None:
            return None
        return Principal(result.subject, result.role, "api_key", result.key_id)
