"""Leader election in Redis: a lease with a fencing token.

One key holds the leader's id for ``lease_ms``; the leader renews it while alive
(compare-and-renew, so it never extends someone else's lease). Each acquisition takes a
new, larger fencing token; writes carry it, and a store refuses a token older than one
it has seen, so a leader that lost its lease (a long pause) cannot act on stale beliefs.

Tokens stay larger than every earlier one even if Redis loses its data (a restart without
persistence, a failover to a lagging replica): a token is at least the current time in
microseconds, so a counter that starts again at 1 cannot fall below the tokens that tasks
in MongoDB have already seen.

Usage
-----

::

    leader = LeaderLease(redis, "jobyard:scheduler", lease_ms=10_000)
    if await leader.hold():
        fire_due_runs(fence=leader.fence)
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from datetime import datetime

from jobyard_libs.queue.liveness import LeaderTick
from redis.asyncio import Redis

HOST = os.environ.get("HOSTNAME") or socket.gethostname()  # the pod's name in Kubernetes

RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
# ARGV[1] is set as the caller's string: Lua would print a 16-digit number as 1.79e+15
NEXT_FENCE = """
local fence = redis.call('incr', KEYS[1])
if fence < tonumber(ARGV[1]) then
  redis.call('set', KEYS[1], ARGV[1])
  return redis.call('get', KEYS[1])
end
return fence
"""
RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class LeaderLease:
    def __init__(self, redis: Redis, prefix: str, *, lease_ms: int) -> None:
        self.redis = redis
        self.key = f"{prefix}:leader"
        self.fence_key = f"{prefix}:fence"
        self.lease_ms = lease_ms
        self.instance = uuid.uuid4().hex
        self.fence: int | None = None

    async def hold(self) -> bool:
        """Renew the lease if ours, else try to take it; ``True`` while this instance leads."""
        if self.fence is not None and await self.redis.eval(RENEW, 1, self.key, self.instance, self.lease_ms):
            return True
        if await self.redis.set(self.key, self.instance, nx=True, px=self.lease_ms):
            now_us = time.time_ns() // 1000  # < 2**53: exact in Lua's numbers
            self.fence = int(await self.redis.eval(NEXT_FENCE, 1, self.fence_key, now_us))
            return True
        self.fence = None
        return False

    async def record_tick(self, key: str, at: datetime) -> None:
        """Who leads and when it last ticked, for the console's Workers page."""
        if self.fence is None:
            return
        tick = LeaderTick(instance=self.instance, host=HOST, pid=os.getpid(), fence=self.fence, tick_at=at)
        await self.redis.set(key, tick.model_dump_json(by_alias=True), px=self.lease_ms * 3)

    async def release(self) -> None:
        await self.redis.eval(RELEASE, 1, self.key, self.instance)
        self.fence = None
