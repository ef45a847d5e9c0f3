"""The scheduler leader's tick, built as ``jobyard-scheduler run`` builds it, on a test's database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from jobyard_libs.app import open_resources
from jobyard_libs.indexes import SHARED_INDEXES
from jobyard_libs.queue.broker import create_broker
from jobyard_scheduler.loop.command import build_firing
from jobyard_scheduler.loop.firing import Firing
from jobyard_scheduler.settings import SchedulerSettings

from tests.conftest import Isolation
from tests.support.imports import settings_for


@asynccontextmanager
async def leader_firing(
    isolation: Isolation, requeue_after: timedelta = timedelta(seconds=30), **overrides: Any
) -> AsyncIterator[Firing]:
    settings = settings_for(
        isolation,
        SchedulerSettings,
        **{
            "scheduler_misfire_grace_seconds": 60,
            "scheduler_requeue_after_seconds": int(requeue_after.total_seconds()),
            **overrides,
        },
    )
    broker = create_broker(settings)
    try:
        async with open_resources(settings, SHARED_INDEXES) as resources:
            yield build_firing(settings, resources, broker)
    finally:
        broker.close()
