"""``jobyard-scheduler import``: one import run over the enabled feed sources.

The feed sources are seeded from ``JOBYARD_FEEDS`` the first time a database is used.
The run's summary is one JSON object; it is ``failed`` when any source failed.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from jobyard_libs.app import open_resources
from jobyard_libs.imports.feed_sources import INDEXES as SOURCE_INDEXES
from jobyard_libs.imports.import_logs import INDEXES as LOG_INDEXES
from jobyard_libs.imports.models import ImportStatus, ImportTrigger
from jobyard_libs.imports.pipeline import ImportRunner
from jobyard_libs.imports.raw_feeds import INDEXES as RAW_INDEXES
from jobyard_libs.queue.broker import create_broker
from pydantic.alias_generators import to_camel

from jobyard_scheduler.settings import SchedulerSettings

INDEXES = [*SOURCE_INDEXES, *LOG_INDEXES, *RAW_INDEXES]


class UnknownFeed(Exception):
    pass


async def run_import(settings: SchedulerSettings, feed_urls: list[str] | None = None) -> dict[str, Any]:
    broker = create_broker(settings)
    try:
        async with open_resources(settings, INDEXES) as resources:
            runner = ImportRunner(resources.db, broker, settings, events=resources.events)
            await runner.sources.seed_once(settings.feeds)
            if feed_urls:
                sources = await runner.sources.by_urls(feed_urls)
                unknown = sorted(set(feed_urls) - {s["url"] for s in sources})
                if unknown:
                    raise UnknownFeed(f"not a feed source: {', '.join(unknown)}")
            else:
                sources = await runner.sources.enabled()
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
