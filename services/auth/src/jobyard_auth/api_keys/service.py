"""API keys for automation: created with the secret shown once, listed, revoked, checked.

A key authenticates as its owner, within its **scopes** and its owner's *current* role:
``read``, ``tasks`` (the default), ``admin`` (admins only). Only a signed-in person makes,
lists or revokes keys: a key cannot (so a leaked key cannot mint a longer-lived one, and
every key's lifetime is bounded by ``JOBYARD_API_KEY_MAX_DAYS`` from a person's action).
A key stops working when revoked (every service knows within a second), when it expires
(by default after 90 days, at most after 365), when its owner signs out everywhere, or
when its owner is deactivated. Creation and revocation are audited.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from jobyard_libs.accounts import ApiKeyCreated, ApiKeyOut
from jobyard_libs.audit import AuditAction, AuditLog
from jobyard_libs.auth import API_KEY_PREFIX, KeyScope, Principal, Role
from jobyard_libs.documents import Oid, parse_id
from jobyard_libs.errors import NotFoundError, ValidationFailed, found
from jobyard_libs.listing import Slice, Window
from jobyard_libs.principals import PrincipalDirectory

from jobyard_auth.api_keys.documents import ApiKey
from jobyard_auth.api_keys.repository import ApiKeyRepository
from jobyard_auth.api_keys.schemas import ApiKeyIn, IntrospectOut
from jobyard_auth.users.service import UserNotFound, UserService


class ApiKeyNotFound(NotFoundError):
    message = "API key not found"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyService:
    def __init__(
        self,
        repository: ApiKeyRepository,
        users: UserService,
        rights: PrincipalDirectory,
        audit: AuditLog,
        *,
        default_days: int,
        max_days: int,
    ) -> None:
        self.repository = repository
        self.users = users
        self.rights = rights
        self.audit = audit
        self.default_days = default_days
        self.max_days = max_days

    async def create(self, owner: Principal, request: ApiKeyIn) -> ApiKeyCreated:
        days = request.expires_in_days or self.default_days
        if days > self.max_days:
            raise ValidationFailed(f"an API key lives at most {self.max_days} days", field="expiresInDays")
        if KeyScope.ADMIN in request.scopes and owner.role is not Role.ADMIN:
            raise ValidationFailed("only admins may give a key the 'admin' scope", field="scopes")
        user = await self.users.of_subject(owner.subject)
        key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        stored = await self.repository.insert(
            ApiKey(
                user_id=user.id,
                name=request.name,
                prefix=key[:11],
                key_hash=_hash(key),
                expires_at=datetime.now(UTC) + timedelta(days=days),
                scopes=sorted(set(request.scopes)),
            )
        )
        scopes = [scope.value for scope in stored.scopes or []]
        target = ("api_key", str(stored.id))
        await self.audit.record(
            AuditAction.API_KEY_CREATED,
            actor=owner,
            target=target,
            name=stored.name,
            scopes=scopes,
            days=days,
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
        revoked = await self.repository.revoke(key.id) or key
        await self._tell(revoked)
        await self.audit.record(AuditAction.API_KEY_REVOKED, actor=principal, target=("api_key", str(key.id)))
        return revoked

    async def revoke_user(self, user_id: Oid) -> int:
        """Every live key of the user (deactivation, sign-out everywhere); how many."""
        keys = await self.repository.live_of_user(user_id)
        for key in keys:
            await self._tell(await self.repository.revoke(key.id) or key)
        return len(keys)

    async def _tell(self, key: ApiKey) -> None:
        """Every service refuses the key within a second, not when its cache of it expires."""
        left = int((self._expires(key) - datetime.now(UTC)).total_seconds())
        await self.rights.publish_key_revoked(str(key.id), ttl_seconds=left)

    def _expires(self, key: ApiKey) -> datetime:
        # keys made before every key had an expiry live at most max_days from their creation
        return key.expires_at or key.created_at + timedelta(days=self.max_days)

    async def introspect(self, key: str) -> IntrospectOut:
        stored = await self.repository.by_hash(_hash(key)) if key.startswith(API_KEY_PREFIX) else None
        if stored is None or stored.revoked_at is not None or self._expires(stored) <= datetime.now(UTC):
            return IntrospectOut(active=False)
        try:
            user = await self.users.get(stored.user_id)
        except UserNotFound:
            return IntrospectOut(active=False)
        if not user.active:
            return IntrospectOut(active=False)
        scopes = stored.scopes if stored.scopes is not None else list(KeyScope)
        return IntrospectOut(
            active=True, subject=str(user.id), role=user.role, key_id=str(stored.id), scopes=scopes
        )


class LocalApiKeyChecker:
    """The auth service checks API keys itself instead of asking itself over HTTP."""

    def __init__(self, service: ApiKeyService) -> None:
        self.service = service

    async def check(self, key: str) -> Principal | None:
        result = await self.service.introspect(key)
        if not result.active or result.subject is None or result.role is None:
            return None
        return Principal(
            result.subject, result.role, "api_key", result.key_id, frozenset(result.scopes or [])
        )
