"""Failed-login rate limits in Redis, per account and per client IP.

Fixed windows: the first failure starts a counter that expires after the window. While an
account or an IP is at its limit, every login attempt for it gets 429 with a
``Retry-After`` of the window's remaining seconds, even with the right password, so that
guessing cannot continue. A successful login clears the account's counter.

Examples
--------
>>> throttle = LoginThrottle(redis, RedisKeys("jobyard:"), per_account=5, per_ip=20, window=900)
>>> await throttle.check("ann@example.com", "10.0.0.7")  # raises TooManyRequests when over
"""

from __future__ import annotations

import hashlib

from jobyard_libs.errors import TooManyRequests
from jobyard_libs.redis_client import RedisKeys
from redis.asyncio import Redis


class LoginThrottle:
    def __init__(self, redis: Redis, keys: RedisKeys, *, per_account: int, per_ip: int, window: int) -> None:
        self.redis = redis
        self.keys = keys
        self.per_account = per_account
        self.per_ip = per_ip
        self.window = window

    def _account_key(self, email: str) -> str:
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        return self.keys.key("ratelimit", "login", "account", digest)

    def _ip_key(self, ip: str) -> str:
        return self.keys.key("ratelimit", "login", "ip", ip)

    async def check(self, email: str, ip: str) -> None:
        pairs = [(self._account_key(email), self.per_account), (self._ip_key(ip), self.per_ip)]
        counts = await self.redis.mget([k for k, _ in pairs])
        for (key, limit), count in zip(pairs, counts, strict=True):
            if count is not None and int(count) >= limit:
                ttl = await self.redis.ttl(key)
                raise TooManyRequests(
                    ttl if ttl > 0 else self.window, "too many failed logins; try again later"
                )

    async def record_failure(self, email: str, ip: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in (self._account_key(email), self._ip_key(ip)):
                pipe.incr(key)
                pipe.expire(key, self.window, nx=True)
            await pipe.execute()

    async def clear_account(self, email: str) -> None:
        await self.redis.delete(self._account_key(email))
