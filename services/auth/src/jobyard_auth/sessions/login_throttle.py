"""Failed-login throttling in Redis that slows guessing down without locking anyone out.

Three counters, each of failures within ``window`` seconds:

- **client** (this account from this address): after ``per_client`` failures, each further
  attempt must wait 1 s, 2 s, 4 s... (capped at ``max_delay``) after the last one;
- **account** (from every address): after ``per_account`` failures the account slows to
  one attempt per ``account_max_delay`` at most (never a lockout: its owner, from their own
  address, waits at most that long);
- **address** (every account from one address): after ``per_ip`` failures that address
  waits like a client.

An attempt is *reserved* before the password is checked, in one Lua script that checks
every counter and counts the attempt at once, so a burst of parallel attempts cannot all
pass the check before any is counted. A success gives the reservation back (and clears the
client counter). The client address is the connection's, or what a trusted proxy says
(``JOBYARD_FORWARDED_ALLOW_IPS``).

With Redis unreachable, logins are refused with 503 (fail closed): password guessing is
never unthrottled. Issued tokens keep working.

Usage
-----

::

    throttle = LoginThrottle(redis, RedisKeys("jobyard:"), LoginLimits())
    await throttle.reserve("ann@example.com", "203.0.113.7")  # TooManyRequests while waiting
    await throttle.succeeded("ann@example.com", "203.0.113.7")
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from jobyard_libs.errors import ServiceUnavailable, TooManyRequests
from jobyard_libs.redis_client import RedisKeys
from redis.asyncio import Redis
from redis.exceptions import RedisError

# KEYS: client, account, ip. ARGV: now_ms, window_s, then (free, max_delay_ms) per key.
# Each key is a hash {n: failures, next: earliest next attempt (ms)}.
RESERVE = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local wait = 0
for i = 1, 3 do
  local nxt = tonumber(redis.call('hget', KEYS[i], 'next') or '0')
  if nxt > now and nxt - now > wait then wait = nxt - now end
end
if wait > 0 then return wait end
for i = 1, 3 do
  local free = tonumber(ARGV[1 + 2 * i])
  local cap = tonumber(ARGV[2 + 2 * i])
  local n = redis.call('hincrby', KEYS[i], 'n', 1)
  if n > free then
    local delay = math.min(1000 * 2 ^ (n - free - 1), cap)
    redis.call('hset', KEYS[i], 'next', now + delay)
  end
  redis.call('expire', KEYS[i], window)
end
return 0
"""
# Give a successful attempt's reservation back: clear the client, uncount the others.
SUCCEEDED = """
redis.call('del', KEYS[1])
for i = 2, 3 do
  if redis.call('exists', KEYS[i]) == 1 then
    local n = redis.call('hincrby', KEYS[i], 'n', -1)
    if n <= 0 then redis.call('del', KEYS[i]) end
  end
end
return 0
"""


@dataclass(frozen=True)
class LoginLimits:
    per_client: int = 5
    per_account: int = 20
    per_ip: int = 100
    window: int = 900
    max_delay: int = 900
    account_max_delay: int = 60


class LoginThrottle:
    def __init__(self, redis: Redis, keys: RedisKeys, limits: LoginLimits) -> None:
        self.redis = redis
        self.keys = keys
        self.limits = limits

    def _keys(self, email: str, ip: str) -> list[str]:
        account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        base = ("ratelimit", "login")
        return [
            self.keys.key(*base, "client", account, ip),
            self.keys.key(*base, "account", account),
            self.keys.key(*base, "ip", ip),
        ]

    async def reserve(self, email: str, ip: str) -> None:
        """Count this attempt as a failure until it succeeds; 429 while a wait is due."""
        limits = self.limits
        args = [
            int(time.time() * 1000),
            limits.window,
            limits.per_client,
            limits.max_delay * 1000,
            limits.per_account,
            limits.account_max_delay * 1000,
            limits.per_ip,
            limits.max_delay * 1000,
        ]
        try:
            wait_ms = int(await self.redis.eval(RESERVE, 3, *self._keys(email, ip), *args))
        except RedisError as exc:
            raise ServiceUnavailable("sign-in is unavailable right now (Redis); try again shortly") from exc
        if wait_ms > 0:
            raise TooManyRequests(
                math.ceil(wait_ms / 1000), "too many failed sign-ins; wait before trying again"
            )

    async def succeeded(self, email: str, ip: str) -> None:
        try:
            await self.redis.eval(SUCCEEDED, 3, *self._keys(email, ip))
        except RedisError:
            return  # the counters expire on their own
