"""Rights follow the database: every request runs with the caller's *current* role.

A token says who the caller was when it was issued; a demotion or a deactivation must not
wait for it to expire. The auth service owns users (MongoDB) and mirrors each user's role
and activation into Redis whenever they change or a token is issued
(:meth:`PrincipalDirectory.publish`). Every other service reads that mirror on each
request (cached for ``cache_seconds``, so a change reaches every replica within about a
second) and the auth service reads MongoDB itself.

When the mirror cannot be read (Redis down) a user's token is trusted as issued (it
expires within ``JOBYARD_ACCESS_TOKEN_TTL_SECONDS``), but admin rights are not: admin
requests answer 503 until the mirror answers again. A user the mirror does not know
(Redis lost its data) is read from the ``users`` collection itself (:class:`StoredRights`)
where the process has MongoDB; without it, taken as the token says.

Usage
-----

::

    directory = PrincipalDirectory(redis, RedisKeys("jobyard:"))
    await directory.publish("65f0...", Role.USER, active=True)   # auth, on every change
    await directory.state("65f0...")                             # everyone else
    # → PrincipalState(role=<Role.USER: 'user'>, active=True)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from jobyard_libs.documents import parse_id
from jobyard_libs.mongo import Database
from jobyard_libs.outages import MONGODB_OUTAGES
from jobyard_libs.redis_client import RedisKeys
from jobyard_libs.roles import Role

log = structlog.get_logger(__name__)
USERS = "users"  # the auth service's collection; read here for role and activation only


@dataclass(frozen=True)
class PrincipalState:
    role: Role
    active: bool


class DirectoryUnavailable(Exception):
    """The current rights cannot be read right now."""


class PrincipalResolver(Protocol):
    async def state(self, subject: str) -> PrincipalState | None:
        """The subject's current rights; ``None`` when this source does not know them."""


class CallerRights(PrincipalResolver, Protocol):
    """What a service checks every caller against: rights, and API keys revoked since."""

    async def key_revoked(self, key_id: str) -> bool:
        """Whether the API key ``key_id`` was revoked (checked on every use)."""


class StoredRights:
    """Users' role and activation read from the ``users`` collection (the auth service's)."""

    def __init__(self, db: Database) -> None:
        self.users = db[USERS]

    async def state(self, subject: str) -> PrincipalState | None:
        oid = parse_id(subject)
        found = await self.users.find_one({"_id": oid}, {"role": 1, "active": 1}) if oid else None
        if found is None:
            return None
        try:
            return PrincipalState(Role(str(found.get("role"))), bool(found.get("active", True)))
        except ValueError:
            return None


class PrincipalDirectory:
    """Users' current role and activation, as the auth service last published them (and, for
    a user the mirror does not know, as ``fallback`` says)."""

    def __init__(
        self,
        redis: Redis,
        keys: RedisKeys,
        *,
        cache_seconds: float = 1.0,
        cache_size: int = 10_000,
        fallback: PrincipalResolver | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.cache_seconds = cache_seconds
        self.cache_size = cache_size
        self.fallback = fallback
        self._cache: dict[str, tuple[float, PrincipalState | None]] = {}
        self._revoked: dict[str, tuple[float, bool]] = {}

    def _key(self, subject: str) -> str:
        return self.keys.key("principal", subject)

    def _revoked_key(self, key_id: str) -> str:
        return self.keys.key("revoked-key", key_id)

    async def publish_key_revoked(self, key_id: str, *, ttl_seconds: int) -> None:
        """Tell every service that an API key is revoked (auth only; kept while the key would live)."""
        try:
            await self.redis.set(self._revoked_key(key_id), 1, ex=max(1, ttl_seconds))
        except RedisError as exc:
            log.warning("key_revocation_not_published", key_id=key_id, error=str(exc))
        self._revoked.pop(key_id, None)

    async def key_revoked(self, key_id: str) -> bool:
        cached = self._revoked.get(key_id)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            revoked = bool(await self.redis.exists(self._revoked_key(key_id)))
        except RedisError as exc:
            raise DirectoryUnavailable(str(exc)) from exc
        if len(self._revoked) >= self.cache_size:
            self._revoked.clear()
        self._revoked[key_id] = (now + self.cache_seconds, revoked)
        return revoked

    async def publish(self, subject: str, role: Role, *, active: bool) -> None:
        """Record a user's rights (auth only). Best effort: a lost write leaves the token's claims."""
        try:
            await self.redis.hset(self._key(subject), mapping={"role": role.value, "active": int(active)})
        except RedisError as exc:
            log.warning("principal_not_published", subject=subject, error=str(exc))
        self._cache.pop(subject, None)

    async def state(self, subject: str) -> PrincipalState | None:
        cached = self._cache.get(subject)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            fields = await self.redis.hgetall(self._key(subject))
        except RedisError as exc:
            raise DirectoryUnavailable(str(exc)) from exc
        state = None
        if fields:
            try:
                state = PrincipalState(Role(_text(fields.get("role"))), _text(fields.get("active")) == "1")
            except ValueError:
                state = None
        if state is None and self.fallback is not None:
            try:
                state = await self.fallback.state(subject)
            except MONGODB_OUTAGES as exc:
                raise DirectoryUnavailable(str(exc)) from exc
        if len(self._cache) >= self.cache_size:
            self._cache.clear()
        self._cache[subject] = (now + self.cache_seconds, state)
        return state


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
