"""Fixed-window rate limits in Redis: ``limit`` units per ``window`` seconds per key.

Usage
-----

::

    limiter = RateLimiter(redis, RedisKeys("jobyard:"), "tasks", limit=600, window=60)
    await limiter.take(user_id, 1)  # raises TooManyRequests with Retry-After when over
"""

from __future__ import annotations

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from jobyard_libs.errors import TooManyRequests
from jobyard_libs.redis_client import RedisKeys

log = structlog.get_logger(__name__)


class RateLimiter:
    def __init__(self, redis: Redis, keys: RedisKeys, name: str, *, limit: int, window: int) -> None:
        self.redis = redis
        self.keys = keys
        self.name = name
        self.limit = limit
        self.window = window

    async def take(self, subject: str, units: int = 1) -> None:
        """Count ``units`` for ``subject``; with Redis down, allow (and log): limits never lose work."""
        key = self.keys.key("ratelimit", self.name, subject)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incrby(key, units)
                pipe.expire(key, self.window, nx=True)
                pipe.ttl(key)
                used, _, ttl = await pipe.execute()
        except RedisError as exc:
            log.warning("rate_limit_unavailable", limit=self.name, error=str(exc))
            return
        if int(used) > self.limit:
            await self.redis.decrby(key, units)  # refused units do not count
            raise TooManyRequests(
                int(ttl) if int(ttl) > 0 else self.window, f"more than {self.limit} per {self.window} s"
            )
