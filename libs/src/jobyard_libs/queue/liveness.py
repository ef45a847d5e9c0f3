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

With each beat a worker also writes its card (:class:`WorkerCard`: host or pod, pid,
queues, threads, memory, version, when it started) beside the beat; :func:`roster` reads
every worker with its card and whether it is stale (the console's Workers page).

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
from datetime import UTC, datetime
from typing import cast

import structlog
from dramatiq import Broker
from dramatiq.brokers.redis import RedisBroker
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
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


def card_key(namespace: str, worker_id: str) -> str:
    return f"{namespace}:jobyard:worker:{worker_id}"


class WorkerCard(BaseModel):
    """What a worker process says of itself with each beat."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    id: str
    host: str  # the pod's name in Kubernetes (HOSTNAME)
    pid: int
    queues: list[str]
    threads: int
    started_at: datetime
    version: str
    rss_bytes: int | None = None


LEADER_TICK = ("scheduler", "last_tick")  # RedisKeys parts: the leader's LeaderTick


class LeaderTick(BaseModel):
    """What the scheduler's leader writes after each tick (kept three leases long)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    instance: str
    host: str
    pid: int
    fence: int
    tick_at: datetime


@dataclass(frozen=True)
class SeenWorker:
    id: str
    beat_at: datetime
    stale: bool  # no beat for longer than the heartbeat timeout: dead, or cut off from Redis
    card: WorkerCard | None  # None: a worker of a version that wrote none, or its card expired


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def roster(redis: Redis, namespace: str, timeout_ms: int) -> list[SeenWorker]:
    """Every worker process that beat in the last hour, newest beat first."""
    raw = await redis.zrange(workers_key(namespace), 0, -1, desc=True, withscores=True)
    beats = [(_text(key), float(score)) for key, score in cast(list[tuple[bytes | str, float]], raw)]
    if not beats:
        return []
    cards = await redis.mget([card_key(namespace, worker_id) for worker_id, _ in beats])
    oldest_alive = time.time() * 1000 - timeout_ms
    return [
        SeenWorker(
            id=worker_id,
            beat_at=datetime.fromtimestamp(score / 1000, UTC),
            stale=score < oldest_alive,
            card=WorkerCard.model_validate_json(card) if card else None,
        )
        for (worker_id, score), card in zip(beats, cards, strict=True)
    ]


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
