"""The monitor service: depth gauges on ``/metrics``, the same numbers at ``/api/v1/stats``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from jobyard_libs.app import Resources, create_service_app
from jobyard_libs.auth import CurrentPrincipal, remote_authenticator
from jobyard_libs.queue.broker import broker_namespace

from jobyard_monitor.depth import DepthWatcher
from jobyard_monitor.settings import MonitorSettings

router = APIRouter(prefix="/api/v1", tags=["stats"])


@router.get("/stats")
async def stats(_: CurrentPrincipal, request: Request) -> dict[str, Any]:
    """Queue depth per queue (ready, delayed, due, in flight, dead, oldest age) and live workers."""
    watcher: DepthWatcher = request.app.state.watcher
    return watcher.snapshot.as_dict()


def create_app(settings: MonitorSettings | None = None) -> FastAPI:
    settings = settings or MonitorSettings()

    @asynccontextmanager
    async def setup(app: FastAPI, resources: Resources) -> AsyncIterator[None]:
        stack = AsyncExitStack()
        app.state.authenticator = await stack.enter_async_context(remote_authenticator(settings))
        watcher = DepthWatcher(
            resources.redis,
            broker_namespace(settings),
            [q.value for q in settings.monitor_queues],
            worker_timeout_ms=settings.queue_heartbeat_timeout_ms,
        )
        app.state.watcher = watcher
        stop = asyncio.Event()
        refresher = asyncio.create_task(watcher.run(settings.monitor_refresh_seconds, stop))
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            await stack.aclose()

    return create_service_app(
        service="monitor",
        settings=settings,
        routers=[router],
        setup=setup,
        title="Jobyard monitor",
        version="0.1.0",
    )
