"""The monitor service: depth gauges on ``/metrics``, the same numbers at ``/api/v1/stats``,
the worker processes at ``/api/v1/workers``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from jobyard_libs.app import Resources, create_service_app
from jobyard_libs.auth import CurrentPrincipal, remote_authenticator
from jobyard_libs.errors import ValidationFailed
from jobyard_libs.imports.import_logs import PER_FEED_INDEX
from jobyard_libs.monitoring import MonitorStats
from jobyard_libs.queue.broker import broker_namespace
from jobyard_libs.queue.contracts import Queue
from jobyard_libs.tasks.stats import Span, StatsSeries, TaskStats

from jobyard_monitor import workers
from jobyard_monitor.activity import ActivityWatcher
from jobyard_monitor.depth import DepthWatcher, refresh_every
from jobyard_monitor.settings import MonitorSettings
from jobyard_monitor.workers import WorkerBoard

router = APIRouter(prefix="/api/v1", tags=["stats"])


@router.get("/stats", response_model_by_alias=True)
async def stats(_: CurrentPrincipal, request: Request) -> MonitorStats:
    """Queue depth per queue, live workers, the scheduler's leader, feed health and task stats."""
    depth: DepthWatcher = request.app.state.depth
    activity: ActivityWatcher = request.app.state.activity
    snapshot = depth.snapshot
    return MonitorStats(
        queues=snapshot.queues,
        workers=snapshot.workers,
        scheduler_leader=snapshot.scheduler_leader,
        refreshed_at=snapshot.refreshed_at,
        imports=activity.feeds_reply(),
        tasks=activity.tasks.reply(),
    )


@router.get("/stats/series", response_model_by_alias=True)
async def series(
    _: CurrentPrincipal,
    request: Request,
    span: Annotated[
        Span, Query(description="`hour`: a point a minute; `day`: a point per 10 minutes")
    ] = "hour",
    queue: Annotated[
        Queue | None, Query(description="one queue's outcomes and depth; all when absent")
    ] = None,
) -> StatsSeries:
    """Completed, dead and cancelled executions and retried attempts, run-time percentiles and
    queue depth over the last hour or day (what the console's charts draw)."""
    settings: MonitorSettings = request.app.state.settings
    watched = [q.value for q in settings.monitor_queues]
    if queue is not None and queue.value not in watched:
        raise ValidationFailed(f"the monitor does not watch {queue.value!r}", field="queue")
    stats: TaskStats = request.app.state.activity.stats
    return await stats.series(span, watched, queue.value if queue else None)


def create_app(settings: MonitorSettings | None = None) -> FastAPI:
    settings = settings or MonitorSettings()

    @asynccontextmanager
    async def setup(app: FastAPI, resources: Resources) -> AsyncIterator[None]:
        stack = AsyncExitStack()
        app.state.authenticator = await stack.enter_async_context(
            remote_authenticator(settings, resources.redis, resources.keys)
        )
        task_stats = TaskStats(resources.redis, resources.keys)
        depth = DepthWatcher(
            resources.redis,
            broker_namespace(settings),
            [q.value for q in settings.monitor_queues],
            worker_timeout_ms=settings.queue_heartbeat_timeout_ms,
            leader_key=resources.keys.key("scheduler", "leader"),
            stats=task_stats,
        )
        activity = ActivityWatcher(
            resources.db,
            task_stats,
            timedelta(seconds=settings.monitor_task_window_seconds),
            stale_after=timedelta(seconds=settings.monitor_feed_stale_seconds),
        )
        app.state.depth, app.state.activity = depth, activity
        app.state.workers = WorkerBoard(
            resources.redis,
            resources.keys,
            resources.db,
            broker_namespace(settings),
            settings.queue_heartbeat_timeout_ms,
        )
        stop = asyncio.Event()
        every = settings.monitor_refresh_seconds
        refreshers = [asyncio.create_task(refresh_every(w.refresh, every, stop)) for w in (depth, activity)]
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*refreshers, return_exceptions=True)
            await stack.aclose()

    return create_service_app(
        service="monitor",
        settings=settings,
        routers=[router, workers.router],
        indexes=[PER_FEED_INDEX],
        setup=setup,
        title="Jobyard monitor",
        version="0.1.0",
    )
