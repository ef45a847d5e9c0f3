"""Which worker processes are alive: the one answer every "its worker died" decision uses.

Every worker process beats into ``<ns>:jobyard:workers`` (a sorted set: broker id → last
beat, in ms) from its own thread every quarter of ``JOBYARD_QUEUE_HEARTBEAT_TIMEOUT_MS``
(:mod:`jobyard_worker.heartbeat`). Work a worker takes (an execution's attempt, an import
run) records that worker's broker id as its *holder*; a holder whose last beat is older
than the heartbeat timeout is dead, and its work is taken over at once
by whoever finds it, instead of after the work's own timeout.

It is the same rule, on the same clock, by which Dramatiq's sweep puts a dead worker's
unacknowledged messages back on their queues, so a redelivered message and its attempt's
takeover agree. A worker that was only paused past the timeout (a long GC pause, a network
partition) and comes back finds its attempt taken over: the conditional end of its attempt
no longer matches (fencing by claim token), so its outcome is not recorded twice.

When Redis cannot tell (unreachable, restarted empty, a holder it never saw), nobody is
known dead: callers fall back to the work's own timeout.

Usage
-----

::

    liveness = WorkerLiveness(redis, broker_namespace(settings), settings.queue_heartbeat_timeout_ms)
    await liveness.dead({"3f2c…", "9a01…"})   # → {"9a01…"}
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import structlog
from dramatiq import Broker
from dramatiq.brokers.redis import RedisBroker
from redis.asyncio import Redis
from redis.exceptions import RedisError

from jobyard_libs.queue.broker import broker_namespace
from jobyard_libs.settings import BaseServiceSettings

log = structlog.get_logger(__name__)
WORKER_LOST = "worker lost"  # the error of an attempt (or import run) whose worker died


def workers_key(namespace: str) -> str:
    """Where worker processes (not senders) mark themselves alive; Dramatiq's own
    heartbeats also list every broker that merely enqueued a message."""
    return f"{namespace}:jobyard:workers"


def holder_id(broker: Broker) -> str | None:
    """The id a worker process beats under and records on the work it takes."""
    return broker.broker_id if isinstance(broker, RedisBroker) else None


@dataclass(frozen=True)
class WorkerLiveness:
    redis: Redis
    namespace: str
    timeout_ms: int

    @classmethod
    def of(cls, redis: Redis, settings: BaseServiceSettings) -> WorkerLiveness:
        return cls(redis, broker_namespace(settings), settings.queue_heartbeat_timeout_ms)

    async def dead(self, holders: Iterable[str]) -> set[str]:
        """Which of ``holders`` stopped beating more than the heartbeat timeout ago.

        Nobody is judged on what Redis cannot know: a holder with no beat at all (its
        entry pruned, or Redis restarted empty) is not known dead, and within a heartbeat
        timeout of Redis starting nobody is (workers had no chance to beat into it); so is
        nobody when Redis cannot be read. Those attempts fall back to their timeout.
        """
        wanted = sorted(set(holders))
        if not wanted:
            return set()
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zmscore(workers_key(self.namespace), wanted)
                pipe.info("server")
                beats, server = await pipe.execute()
        except RedisError as exc:
            log.warning("worker_liveness_unknown", error=str(exc))
            return set()
        if int(server.get("uptime_in_seconds", 0)) * 1000 < self.timeout_ms:
            return set()
        oldest_alive = time.time() * 1000 - self.timeout_ms
        return {
            holder
            for holder, beat in zip(wanted, beats, strict=True)
            if beat is not None and beat < oldest_alive
        }

    async def is_dead(self, holder: str | None) -> bool:
        return holder is not None and holder in await self.dead([holder])
