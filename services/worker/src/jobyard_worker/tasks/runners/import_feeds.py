"""import-feeds: one import of every enabled feed source, or of the ones named."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jobyard_libs.imports.models import ImportTrigger
from jobyard_libs.imports.pipeline import ImportRunner
from jobyard_libs.queue.liveness import holder_id
from jobyard_libs.tasks.kinds.import_feeds import NAME, Payload

if TYPE_CHECKING:
    from jobyard_worker.tasks.runners import KindContext

__all__ = ["NAME", "UnknownFeeds", "run"]


class UnknownFeeds(Exception):
    pass


async def run(context: KindContext, payload: Payload) -> dict[str, Any]:
    runner = ImportRunner(
        context.db,
        context.broker,
        context.settings,
        on_change=context.on_import_change,
        liveness=context.liveness,
        runner=holder_id(context.broker),
    )
    sources, unknown = await runner.sources.to_import(payload.feed_urls)
    if unknown:
        raise UnknownFeeds(f"not a feed source: {', '.join(unknown)}")
    context.log.info("importing", feeds=len(sources))
    outcomes = await runner.run_sources(sources, ImportTrigger.TASK)
    for outcome in outcomes:
        context.log.info("import", import_log_id=outcome.import_log_id, status=str(outcome.status))
    return {
        "importLogIds": [o.import_log_id for o in outcomes],
        "statuses": [str(o.status) for o in outcomes],
    }
