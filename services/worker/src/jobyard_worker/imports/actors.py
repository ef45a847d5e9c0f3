"""Import actors: apply a batch; run a feed import started through the API."""

from __future__ import annotations

from typing import Any

from jobyard_libs.documents import as_id
from jobyard_libs.imports.feed_sources import FeedSourceRepository
from jobyard_libs.imports.import_logs import ImportLogRepository
from jobyard_libs.imports.jobs import JobRepository
from jobyard_libs.imports.pipeline import ImportRunner
from jobyard_libs.queue.contracts import ActorName, ApplyBatchPayload, RunFeedPayload
from jobyard_libs.queue.liveness import holder_id

from jobyard_worker.actor_registry import actor
from jobyard_worker.context import worker_context
from jobyard_worker.imports.service import BatchApplier

BATCH_TIME_LIMIT_MS = 5 * 60 * 1000
RUN_TIME_LIMIT_MS = 30 * 60 * 1000


def _applier() -> BatchApplier:
    context = worker_context()
    db = context.resources.db
    return BatchApplier(
        JobRepository(db),
        ImportLogRepository(db, context.resources.events.import_changed),
        FeedSourceRepository(db),
        failed_limit=context.settings.import_failed_jobs_limit,
    )


async def _batch_dead(payload: dict[str, Any], error: str) -> None:
    await _applier().give_up(ApplyBatchPayload.model_validate(payload), error)


@actor(ActorName.IMPORT_APPLY_BATCH, on_dead=_batch_dead, time_limit=BATCH_TIME_LIMIT_MS)
async def apply_batch(payload: dict[str, Any]) -> None:
    await _applier().apply(ApplyBatchPayload.model_validate(payload))


@actor(ActorName.IMPORT_RUN_FEED, max_retries=0, time_limit=RUN_TIME_LIMIT_MS)
async def run_feed(payload: dict[str, Any]) -> None:
    context = worker_context()
    request = RunFeedPayload.model_validate(payload)
    runner = ImportRunner(
        context.resources.db,
        context.broker,
        context.settings,
        on_change=context.resources.events.import_changed,
        liveness=context.liveness,
        runner=holder_id(context.broker),
    )
    await runner.run_log(as_id(request.import_log_id))
