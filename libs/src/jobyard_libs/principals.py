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
(Redis lost its data) is likewise taken as the token says.

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

from jobyard_libs.redis_client import RedisKeys
from jobyard_libs.roles import Role

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PrincipalState:
    role: Role
    active: bool


class DirectoryUnavailable(Exception):
    """The current rights cannot be read right now."""


class PrincipalResolver(Protocol):
    async def state(self, subject: str) -> PrincipalState | None:
        """The subject's current rights; ``None`` when this source does not know them."""


class PrincipalDirectory:
    """Users' current role and activation, as the auth service last published them."""

    def __init__(
        self, redis: Redis, keys: RedisKeys, *, cache_seconds: float = 1.0, cache_size: int = 10_000
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.cache_seconds = cache_seconds
        self.cache_size = cache_size
        self._cache: dict[str, tuple[float, PrincipalState | None]] = {}

    def _key(self, subject: str) -> str:
        return self.keys.key("principal", subject)

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
        if len(self._cache) >= self.cache_size:
            self._cache.clear()
        self._cache[subject] = (now + self.cache_seconds, state)
        return state


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
