"""``jobyard-scheduler run``: while leader, fire due runs and queue what was never queued."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta

import structlog
from jobyard_libs.app import open_resources
from jobyard_libs.queue.broker import create_broker
from jobyard_libs.tasks.artifacts import INDEXES as ARTIFACT_INDEXES
from jobyard_libs.tasks.artifacts import ArtifactRepository
from jobyard_libs.tasks.repository import INDEXES, DeadLetterRepository, ExecutionRepository, TaskRepository
from jobyard_libs.tasks.webhooks import execution_notifier
from redis.exceptions import RedisError

from jobyard_scheduler.loop import metrics
from jobyard_scheduler.loop.clock import Clock, fast_clock, real_clock
from jobyard_scheduler.loop.firing import Firing
from jobyard_scheduler.loop.leader import LeaderLease
from jobyard_scheduler.settings import SchedulerSettings

log = structlog.get_logger(__name__)


def clock_for(settings: SchedulerSettings) -> Clock:
    if settings.scheduler_clock_start is None and settings.scheduler_clock_speed == 1.0:
        return real_clock
    return fast_clock(settings.scheduler_clock_start or real_clock(), settings.scheduler_clock_speed)


async def run_loop(settings: SchedulerSettings, stop: asyncio.Event) -> None:
    clock = clock_for(settings)
    broker = create_broker(settings)
    try:
        async with open_resources(settings, [*INDEXES, *ARTIFACT_INDEXES]) as resources:
            lease = LeaderLease(
                resources.redis, resources.keys.key("scheduler"), lease_ms=settings.scheduler_lease_ms
            )
            firing = Firing(
                TaskRepository(resources.db),
                ExecutionRepository(resources.db, execution_notifier(resources.events, broker)),
                DeadLetterRepository(resources.db),
                broker,
                settings,
                misfire_grace=timedelta(seconds=settings.scheduler_misfire_grace_seconds),
                requeue_after=timedelta(seconds=settings.scheduler_requeue_after_seconds),
                artifacts=ArtifactRepository(resources.db),
            )
            leading = False
            while not stop.is_set():
                try:
                    now_leading = await lease.hold()
                    if now_leading != leading:
                        log.info("scheduler_leadership", leader=now_leading, fence=lease.fence)
                        leading = now_leading
                        metrics.IS_LEADER.set(int(leading))
                    if leading and lease.fence is not None:
                        started = time.perf_counter()
                        result = await firing.tick(clock(), lease.fence)
                        metrics.record_tick(result, time.perf_counter() - started)
                except RedisError as exc:
                    log.warning("scheduler_redis_unavailable", error=str(exc))
                    metrics.ERRORS.inc()
                    leading = False
                    metrics.IS_LEADER.set(0)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), settings.scheduler_tick_seconds)
            if leading:
                await lease.release()
    finally:
        broker.close()
