"""Attempt claims in Redis: who runs attempt N of an execution, before MongoDB hears of it.

A worker claims attempt N of an execution (its stored ``attempts`` + 1) with one script:
the claim is won if no claim is held, or if the one held is for an earlier attempt (stale:
that attempt's end was recorded, or it was taken over). A claim held for attempt N (or a
later one) is someone else's: a duplicate delivery does not run it twice. The key holds
``<holder>|<started at, ms>|<attempt>`` (the worker process's broker id), so a delivery
that finds a dead holder's claim can record that attempt lost, as MongoDB's ``processing``
record would have said.

The attempt is written to MongoDB (``processing``) only if it runs past a threshold
(:mod:`jobyard_libs.tasks.lifecycle`); a short attempt's claim and its outcome are then one
write. When the attempt ends, its claim is kept a little longer (``KEEP_AFTER_END_MS``), so
a duplicate delivery that read the record just before the end cannot claim it again; then
it expires. A claim lives at most its attempt's timeout plus the stale grace and the
heartbeat timeout: enough for a dead worker's message to be delivered again while it
still says who ran the attempt.

Usage
-----

::

    claims = AttemptClaims(redis, keys)
    held = await claims.take([Claim(execution_id, "holder-1", started_ms, attempt=3, ttl_ms=90_000)])
    held[execution_id]   # None: won; else the claim that is held
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from jobyard_libs.documents import Oid
from jobyard_libs.redis_client import RedisKeys

KEEP_AFTER_END_MS = 30_000

# KEYS[1] the claim; ARGV: holder|startedMs|attempt, attempt, ttl ms. nil: won; else the held value
TAKE = """
local held = redis.call('GET', KEYS[1])
if held then
  local attempt = tonumber(string.match(held, '|(%d+)$'))
  if attempt and attempt >= tonumber(ARGV[2]) then return held end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return false
"""

# KEYS[1] the claim; ARGV: our value, ms to keep it (0: delete it). Only our own claim.
RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
"""


@dataclass(frozen=True)
class Claim:
    execution_id: Oid
    holder: str
    started_ms: int
    attempt: int
    ttl_ms: int

    @property
    def value(self) -> str:
        return f"{self.holder}|{self.started_ms}|{self.attempt}"


@dataclass(frozen=True)
class HeldClaim:
    """A claim someone holds: attempt ``attempt``, taken by ``holder`` at ``started_ms``."""

    holder: str
    started_ms: int
    attempt: int

    @classmethod
    def parse(cls, value: str) -> HeldClaim:
        """A value not ours to read is held by nobody known, for no attempt (never ours)."""
        holder, _, attempt = value.rpartition("|")
        holder, _, started = holder.rpartition("|")
        if not holder or not started.isdigit() or not attempt.isdigit():
            return cls("", 0, 0)
        return cls(holder, int(started), int(attempt))


class AttemptClaims:
    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        self.redis, self.keys = redis, keys

    def key(self, execution_id: Oid) -> str:
        return self.keys.key("claim", str(execution_id))

    async def take(self, claims: Sequence[Claim]) -> dict[Oid, HeldClaim | None]:
        """Each claim: ``None`` where it was won, else the claim held (one round trip)."""
        if not claims:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for claim in claims:
                pipe.eval(TAKE, 1, self.key(claim.execution_id), claim.value, claim.attempt, claim.ttl_ms)
            answers = await pipe.execute()
        return {
            claim.execution_id: (None if answer is None else HeldClaim.parse(_text(answer)))
            for claim, answer in zip(claims, answers, strict=True)
        }

    async def held(self, execution_id: Oid) -> HeldClaim | None:
        value = await self.redis.get(self.key(execution_id))
        return None if value is None else HeldClaim.parse(_text(value))

    def release(self, pipe: Pipeline, claims: Sequence[Claim]) -> None:
        """On ``pipe``: each attempt ended; its claim expires ``KEEP_AFTER_END_MS`` from now."""
        for claim in claims:
            pipe.eval(RELEASE, 1, self.key(claim.execution_id), claim.value, KEEP_AFTER_END_MS)

    async def forget(self, claim: Claim) -> None:
        """The attempt never ran (its message goes back on the queue): another may claim it."""
        await self.redis.eval(RELEASE, 1, self.key(claim.execution_id), claim.value, 0)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
