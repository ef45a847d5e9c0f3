"""``jobyard-scheduler run``: while leader, fire due runs and queue what was never queued.

The loop outlives its dependencies: while MongoDB or Redis is away each tick fails, the
outage is logged once (and when it ends), ticks back off up to ``JOBYARD_OUTAGE_RETRY_MAX_SECONDS``, and
the loop resumes by itself when the dependency returns. Losing Redis also loses the lease:
another replica may lead meanwhile, and the fencing token keeps runs exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta

import structlog
from dramatiq import Broker
from jobyard_libs.app import Resources, open_resources
from jobyard_libs.imports.pipeline import ImportRunner
from jobyard_libs.indexes import SHARED_INDEXES
from jobyard_libs.mongo import utcnow
from jobyard_libs.outages import OUTAGES, OutageLog, backoff_seconds, dependency_of
from jobyard_libs.principals import PrincipalDirectory, StoredRights
from jobyard_libs.queue.broker import create_broker
from jobyard_libs.queue.liveness import LEADER_TICK, WorkerLiveness
from jobyard_libs.retention import Retention, RetentionPolicy
from jobyard_libs.tasks.artifacts import ArtifactRepository
from jobyard_libs.tasks.engine import TaskEngine
from jobyard_libs.tasks.repository import ExecutionRepository, TaskRepository
from jobyard_libs.tasks.rights import CronFloors, OwnerWork

from jobyard_scheduler.loop import metrics
from jobyard_scheduler.loop.clock import Clock, fast_clock, real_clock
from jobyard_scheduler.loop.firing import Firing
from jobyard_scheduler.loop.leader import LeaderLease
from jobyard_scheduler.loop.workflows import WorkflowFiring
from jobyard_scheduler.settings import SchedulerSettings

log = structlog.get_logger(__name__)


def clock_for(settings: SchedulerSettings) -> Clock:
    if settings.scheduler_clock_start is None and settings.scheduler_clock_speed == 1.0:
        return real_clock
    return fast_clock(settings.scheduler_clock_start or real_clock(), settings.scheduler_clock_speed)


def build_firing(settings: SchedulerSettings, resources: Resources, broker: Broker) -> Firing:
    """What a leader's tick does, on these clients, as ``settings`` say."""
    db = resources.db
    executions = ExecutionRepository(db)
    engine = TaskEngine.on(resources, broker, settings)
    rights = PrincipalDirectory(resources.redis, resources.keys, fallback=StoredRights(db))
    liveness = WorkerLiveness.of(resources.redis, settings)
    floors = CronFloors.of(settings)
    misfire_grace = timedelta(seconds=settings.scheduler_misfire_grace_seconds)
    return Firing(
        TaskRepository(db),
        executions,
        engine.outcomes,
        broker,
        settings,
        misfire_grace=misfire_grace,
        requeue_after=timedelta(seconds=settings.scheduler_requeue_after_seconds),
        artifacts=ArtifactRepository(db),
        imports=ImportRunner(
            db, broker, settings, on_change=resources.events.import_changed, liveness=liveness
        ),
        sweep_every=timedelta(seconds=settings.scheduler_sweep_seconds),
        rights=rights,
        owner_work=OwnerWork(db, engine.lifecycle, floors),
        liveness=liveness,
        retention=Retention(db, RetentionPolicy.of(settings), batch=settings.retention_sweep_batch),
        workflows=engine.lifecycle.workflows,
        workflow_quiet=timedelta(seconds=settings.scheduler_workflow_reconcile_seconds),
        workflow_firing=WorkflowFiring(
            engine.lifecycle.workflows, misfire_grace=misfire_grace, rights=rights, floors=floors
        ),
    )


async def run_loop(settings: SchedulerSettings, stop: asyncio.Event) -> None:
    clock = clock_for(settings)
    broker = create_broker(settings)
    try:
        async with open_resources(settings, SHARED_INDEXES) as resources:
            lease = LeaderLease(
                resources.redis, resources.keys.key("scheduler"), lease_ms=settings.scheduler_lease_ms
            )
            firing = build_firing(settings, resources, broker)
            tick_key = resources.keys.key(*LEADER_TICK)
            leading = False
            outages = OutageLog("scheduler")
            failures = 0
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
                        await lease.record_tick(tick_key, utcnow())
                    outages.recovered()
                    failures = 0
                except OUTAGES as exc:
                    dependency = dependency_of(exc) or "dependency"
                    outages.failed(dependency, exc)
                    metrics.ERRORS.labels(dependency).inc()
                    failures += 1
                    if dependency == "redis":  # the lease cannot be renewed: stand down
                        leading = False
                        metrics.IS_LEADER.set(0)
                wait = settings.scheduler_tick_seconds
                if failures:
                    cap = settings.outage_retry_max_seconds
                    wait = max(wait, backoff_seconds(failures, base=settings.scheduler_tick_seconds, cap=cap))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
            if leading:
                with contextlib.suppress(*OUTAGES):
                    await lease.release()
    finally:
        broker.close()
