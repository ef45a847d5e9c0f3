"""Queue depth as Prometheus gauges, refreshed on an interval so that a scrape costs nothing.

Gauges: ``jobyard_queue_messages{queue,state}`` (state: ready, delayed, due, in_flight,
dead), ``jobyard_queue_oldest_message_age_seconds{queue}``, ``jobyard_workers_live``,
``jobyard_scheduler_leader_present`` and ``jobyard_monitor_last_refresh_timestamp_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from jobyard_libs.outages import OUTAGES, OutageLog, dependency_of
from jobyard_libs.queue.depth import QueueDepth, count_workers, queue_depths
from jobyard_libs.tasks.stats import TaskStats
from prometheus_client import Gauge
from redis.asyncio import Redis

log = structlog.get_logger(__name__)
QUEUE_MESSAGES = Gauge(
    "jobyard_queue_messages", "Messages Dramatiq holds, by queue and state.", ["queue", "state"]
)
OLDEST_AGE = Gauge("jobyard_queue_oldest_message_age_seconds", "Age of the oldest ready message.", ["queue"])
WORKERS = Gauge("jobyard_workers_live", "Worker processes with a recent heartbeat.")
REFRESHED = Gauge("jobyard_monitor_last_refresh_timestamp_seconds", "When the monitor last read queue depth.")
LEADER = Gauge("jobyard_scheduler_leader_present", "1 while some scheduler holds the leader lease.")


@dataclass
class Snapshot:
    queues: list[QueueDepth] = field(default_factory=list)
    workers: int = 0
    scheduler_leader: bool = False
    refreshed_at: float | None = None


class DepthWatcher:
    def __init__(
        self,
        redis: Redis,
        namespace: str,
        queues: list[str],
        *,
        worker_timeout_ms: int,
        leader_key: str,
        stats: TaskStats,
    ) -> None:
        self.redis, self.stats = redis, stats
        self.namespace = namespace
        self.leader_key = leader_key
        self.queues = queues
        self.worker_timeout_ms = worker_timeout_ms
        self.snapshot = Snapshot()

    async def refresh(self) -> Snapshot:
        depths = await queue_depths(self.redis, self.namespace, self.queues)
        workers = await count_workers(self.redis, self.namespace, within_ms=self.worker_timeout_ms)
        for depth in depths:
            states = {
                "ready": depth.ready,
                "delayed": depth.delayed,
                "due": depth.delayed_due,
                "in_flight": depth.in_flight,
                "dead": depth.dead,
            }
            for state, value in states.items():
                QUEUE_MESSAGES.labels(depth.queue, state).set(value)
            OLDEST_AGE.labels(depth.queue).set(depth.oldest_ready_age_seconds)
        WORKERS.set(workers)
        now = time.time()  # the reading's one instant: its minute in the series is refreshedAt's
        await self.stats.record_depth({depth.queue: depth.backlog for depth in depths}, now=now)
        leader = bool(await self.redis.exists(self.leader_key))
        LEADER.set(int(leader))
        REFRESHED.set(now)
        self.snapshot = Snapshot(depths, workers, leader, now)
        return self.snapshot


async def refresh_every(refresh: Callable[[], Awaitable[object]], every: float, stop: asyncio.Event) -> None:
    """Call ``refresh`` until ``stop``; while a dependency is away the last reading is kept
    (and the outage logged once, and again when it ends)."""
    outages = OutageLog("monitor")
    while not stop.is_set():
        try:
            await refresh()
            outages.recovered()
        except OUTAGES as exc:
            outages.failed(dependency_of(exc) or "dependency", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
