"""``jobyard-scheduler import``: one import run over the enabled feed sources.

The feed sources are seeded from ``JOBYARD_FEEDS`` the first time a database is used.
The run's summary is one JSON object; it is ``failed`` when any source failed.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from jobyard_libs.app import open_resources
from jobyard_libs.imports.models import ImportStatus, ImportTrigger
from jobyard_libs.imports.pipeline import ImportRunner
from jobyard_libs.indexes import SHARED_INDEXES
from jobyard_libs.queue.broker import create_broker
from pydantic.alias_generators import to_camel

from jobyard_scheduler.settings import SchedulerSettings


class UnknownFeed(Exception):
    pass


async def run_import(settings: SchedulerSettings, feed_urls: list[str] | None = None) -> dict[str, Any]:
    broker = create_broker(settings)
    try:
        async with open_resources(settings, SHARED_INDEXES) as resources:
            runner = ImportRunner(resources.db, broker, settings, on_change=resources.events.import_changed)
            await runner.sources.seed_once(settings.feeds)
            sources, unknown = await runner.sources.to_import(feed_urls)
            if unknown:
                raise UnknownFeed(f"not a feed source: {', '.join(unknown)}")
            outcomes = await runner.run_sources(sources, ImportTrigger.SCHEDULE)
    finally:
        broker.close()
    failed = [o for o in outcomes if o.status == ImportStatus.FAILED or o.error]
    return {
        "status": "failed" if failed else "ok",
        "sources": len(outcomes),
        "failedSources": len(failed),
        "imports": [{to_camel(k): v for k, v in asdict(o).items()} for o in outcomes],
    }
