"""Apply one batch of parsed postings: write only what changed, count it exactly once.

Each posting is classified against what is stored: *new* (insert), *updated* (content
hash differs: update, ``updatedAt`` moves), *unchanged* (no write at all). A posting
last written by this very batch (``lastBatchId``) is a redelivery after a crash: it
counts as what that first write was, and is not written again. The import log's
counters then move once per batch id, and the log finishes when its last batch is done.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from jobyard_libs.documents import Oid, as_id
from jobyard_libs.imports.documents import FailedJob, Posting, PostingUpdate
from jobyard_libs.imports.feed_sources import FeedSourceRepository
from jobyard_libs.imports.import_logs import BatchCounts, ImportLogRepository
from jobyard_libs.imports.jobs import JobRepository
from jobyard_libs.queue.contracts import ApplyBatchPayload
from pydantic import ValidationError

log = structlog.get_logger(__name__)


@dataclass
class BatchResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    recorded: bool = False


def _posting(job: dict[str, object]) -> Posting | FailedJob:
    """A batch message's posting, typed; one that does not fit is failed, naming why."""
    try:
        return Posting.model_validate(job)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        return FailedJob(id=str(job.get("externalId")), reason=f"{where}: {error['msg']}"[:300])


class BatchApplier:
    def __init__(
        self,
        jobs: JobRepository,
        logs: ImportLogRepository,
        sources: FeedSourceRepository,
        *,
        failed_limit: int,
    ) -> None:
        self.jobs = jobs
        self.logs = logs
        self.sources = sources
        self.failed_limit = failed_limit

    async def _finish_if_done(self, log_id: Oid) -> None:
        """The batch that finishes the import tells its feed (its validators, on success)."""
        finished = await self.logs.complete_if_done(log_id)
        if finished is not None:
            await self.sources.record_run(finished)

    async def apply(self, batch: ApplyBatchPayload) -> BatchResult:
        log_id = as_id(batch.import_log_id)
        failures: list[FailedJob] = []
        postings: dict[str, Posting] = {}
        for job in batch.jobs:
            posting = _posting(job)
            if isinstance(posting, FailedJob):
                failures.append(posting)
                continue
            if posting.external_id in postings:
                failures.append(FailedJob(id=posting.external_id, reason="duplicate externalId in this feed"))
            postings[posting.external_id] = posting

        result = BatchResult()
        await self._write(batch, postings, result, failures, retry=True)
        result.failed = len(failures)
        result.recorded = await self.logs.record_batch(
            log_id,
            batch.batch_id,
            counts=BatchCounts(new=result.new, updated=result.updated, unchanged=result.unchanged),
            failures=failures,
            failed_limit=self.failed_limit,
        )
        await self._finish_if_done(log_id)
        log.info(
            "import_batch_applied",
            import_log_id=batch.import_log_id,
            batch_id=batch.batch_id,
            new=result.new,
            updated=result.updated,
            unchanged=result.unchanged,
            failed=result.failed,
            counted=result.recorded,
        )
        return result

    async def _write(
        self,
        batch: ApplyBatchPayload,
        postings: dict[str, Posting],
        result: BatchResult,
        failures: list[FailedJob],
        *,
        retry: bool,
    ) -> None:
        existing = await self.jobs.existing(batch.feed_url, list(postings))
        inserts: list[Posting] = []
        updates: list[PostingUpdate] = []
        for external_id, posting in postings.items():
            stored = existing.get(external_id)
            if stored is None:
                inserts.append(posting)
            elif stored.last_batch_id == batch.batch_id:  # written by an earlier delivery of this batch
                if stored.last_change == "new":
                    result.new += 1
                else:
                    result.updated += 1
            elif stored.content_hash == posting.content_hash:
                result.unchanged += 1
            else:
                updates.append(PostingUpdate(posting=posting, old_hash=stored.content_hash))

        outcome = await self.jobs.write(batch.feed_url, batch.batch_id, inserts=inserts, updates=updates)
        failures += [FailedJob(id=i, reason=r) for i, r in outcome.errors.items()]
        result.new += len(outcome.inserted)
        result.updated += outcome.updated
        # An update that lost a race to a newer write changed nothing of ours.
        result.unchanged += (
            len(updates)
            - outcome.updated
            - len(outcome.errors.keys() & {u.posting.external_id for u in updates})
        )
        # An insert that met an existing posting: written meanwhile by another delivery of this
        # batch (a dead worker's write still running on the server) or another batch. Look again.
        met = {
            p.external_id: p
            for p in inserts
            if p.external_id not in outcome.inserted and p.external_id not in outcome.errors
        }
        if met and retry:
            await self._write(batch, met, result, failures, retry=False)
        else:
            result.unchanged += len(met)

    async def give_up(self, batch: ApplyBatchPayload, error: str) -> None:
        """The batch exhausted its retries: its postings are failed and the log will be too."""
        log_id = as_id(batch.import_log_id)
        reason = f"batch failed after retries: {error}"[:300]
        failures = [FailedJob(id=str(job.get("externalId")), reason=reason) for job in batch.jobs]
        await self.logs.record_batch(
            log_id,
            batch.batch_id,
            counts=BatchCounts(),
            failures=failures,
            failed_limit=self.failed_limit,
            dead_error=f"batch {batch.batch_id} failed after retries: {error}"[:500],
        )
        await self._finish_if_done(log_id)
        log.error(
            "import_batch_dead", import_log_id=batch.import_log_id, batch_id=batch.batch_id, error=error
        )
