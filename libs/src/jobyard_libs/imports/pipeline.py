"""One feed import: fetch → keep the raw feed → parse → batch → queue → processing.

:class:`ImportRunner` is what ``jobyard-scheduler import`` (the hourly CronJob) and the
worker's ``imports.run_feed`` actor (imports started through the API) both run. Per
source it creates an import log (``pending``), fetches with the source's ETag /
Last-Modified (a 304 finishes the log as ``not_modified`` and queues nothing), stores the
raw body in ``raw_feeds``, parses it as a stream and queues one ``imports.apply_batch``
message per ``import_batch_size`` postings while parsing, then marks the log
``processing``. The worker finishes it. A feed that cannot be fetched or is not a feed
finishes ``failed`` with the reason in ``error``. A document that breaks partway keeps
the postings parsed before the break and is ``failed`` too, naming where.

Usage
-----

::

    runner = ImportRunner(db, broker, settings)
    outcomes = await runner.run_sources(await runner.sources.enabled(), ImportTrigger.SCHEDULE)
"""

from __future__ import annotations

import asyncio
import functools
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any

import structlog
from dramatiq import Broker
from dramatiq.brokers.redis import RedisBroker

from jobyard_libs.audit import AuditLog
from jobyard_libs.documents import Oid
from jobyard_libs.feeds.errors import FeedError, FeedRefused
from jobyard_libs.feeds.fetcher import fetch_feed
from jobyard_libs.feeds.parser import ItemFailure, iter_feed
from jobyard_libs.imports import metrics
from jobyard_libs.imports.documents import FailedJob, FeedSource, ImportLog
from jobyard_libs.imports.feed_sources import FeedSourceRepository
from jobyard_libs.imports.import_logs import ImportLogRepository, OnChange, ParseRecord
from jobyard_libs.imports.models import ImportStatus, ImportTrigger
from jobyard_libs.imports.raw_feeds import RawFeedRepository
from jobyard_libs.imports.settings import ImportSettings
from jobyard_libs.mongo import Database, utcnow
from jobyard_libs.queue.broker import messages_present
from jobyard_libs.queue.contracts import ActorName, ApplyBatchPayload, Queue, RunFeedPayload
from jobyard_libs.queue.liveness import WORKER_LOST, WorkerLiveness
from jobyard_libs.queue.sender import enqueue

log = structlog.get_logger(__name__)
JOINED = "joined"  # the outcome of a source whose import was already running


@dataclass
class ImportOutcome:
    import_log_id: str
    feed_url: str
    status: str
    total_fetched: int = 0
    batches: int = 0
    failed_items: int = 0
    error: str | None = None


@dataclass
class _ParseProgress:
    total: int = 0
    batches: int = 0
    failures: list[FailedJob] = field(default_factory=list)
    failed: int = 0


class ImportRunner:
    def __init__(
        self,
        db: Database,
        broker: Broker,
        settings: ImportSettings,
        *,
        on_change: OnChange,
        liveness: WorkerLiveness | None = None,
        runner: str | None = None,
    ) -> None:
        """``on_change``: the live import events (``EventPublisher.import_changed``), or
        ``import_logs.UNWATCHED`` where nobody watches. ``liveness``: to take over a run whose
        worker died at once (else after ``STALE_START``); ``runner``: this process's broker id
        when it is a worker that beats (a run it claims is taken over when its beat stops)."""
        self.liveness = liveness
        self.runner = runner
        self.broker = broker
        self.settings = settings
        self.guard = settings.feed_guard()
        self.sources = FeedSourceRepository(db)
        self.logs = ImportLogRepository(db, on_change)
        self.raw = RawFeedRepository(db)
        self.audit = AuditLog(db, retention_days=settings.audit_retention_days)

    async def create_logs(
        self, sources: list[FeedSource], trigger: ImportTrigger, request_id: str | None = None
    ) -> list[tuple[Oid, bool]]:
        """A log per source, or the one of its import already running: ``(id, joined)`` each."""
        stale_after = timedelta(seconds=self.settings.import_stale_after_seconds)
        return [
            await self.logs.create(
                feed_url=s.url,
                source_id=s.id,
                trigger=trigger,
                request_id=request_id,
                stale_after=stale_after,
            )
            for s in sources
        ]

    async def run_sources(self, sources: list[FeedSource], trigger: ImportTrigger) -> list[ImportOutcome]:
        """Run each source's import, ``import_concurrency`` at a time; a feed whose import is
        already running is joined, not run twice."""
        logs = await self.create_logs(sources, trigger)
        gate = asyncio.Semaphore(self.settings.import_concurrency)

        async def run(log_id: Oid, url: str, joined: bool) -> ImportOutcome:
            if joined:
                return ImportOutcome(str(log_id), url, JOINED)
            async with gate:
                return await self.run_log(log_id)

        return list(
            await asyncio.gather(*(run(i, s.url, j) for (i, j), s in zip(logs, sources, strict=True)))
        )

    async def run_log(self, log_id: Oid) -> ImportOutcome:
        current = await self.logs.get(log_id)
        if current is None:
            return ImportOutcome(str(log_id), "", "missing", error="import log not found")
        url = current.feed_url
        if not await self.logs.start(log_id, runner=self.runner) and not await self._take_over(current):
            return ImportOutcome(str(log_id), url, current.status)  # a duplicate: its runner lives
        bound = log.bind(import_log_id=str(log_id), feed_url=url)
        source = await self.sources.by_url(url)
        # conditional only after a run that completed: a feed whose last parse failed is parsed
        # again for real, never taken as "not modified" on the word of a broken answer's ETag
        conditional = source is not None and source.last_outcome != ImportStatus.FAILED
        try:
            with metrics.FETCH_DURATION.labels(url).time():
                fetched = await fetch_feed(
                    url,
                    self.settings.fetch_options(),
                    self.guard,
                    etag=source.etag if source and conditional else None,
                    last_modified=source.last_modified if source and conditional else None,
                )
        except FeedError as exc:
            metrics.RUNS.labels(url, "failed").inc()
            if isinstance(exc, FeedRefused):
                await self.audit.egress_refused(
                    current.requested_by, ("import_log", str(log_id)), exc, url=url
                )
            return await self._fail(log_id, url, str(exc), bound)
        if fetched.not_modified:
            metrics.RUNS.labels(url, "not_modified").inc()
            finished = await self.logs.finish(
                log_id, ImportStatus.NOT_MODIFIED, fetched_at=utcnow(), http_status=304
            )
            if finished is not None:
                await self.sources.record_run(finished)
            bound.info("import_not_modified")
            return ImportOutcome(str(log_id), url, ImportStatus.NOT_MODIFIED)

        assert fetched.body is not None
        progress = _ParseProgress()
        error: str | None = None
        try:
            await self.raw.store(log_id=log_id, feed_url=url, body=fetched.body)
            await asyncio.to_thread(
                functools.partial(
                    self._parse_and_enqueue,
                    fetched.body,
                    url,
                    log_id,
                    progress,
                    size=self.settings.import_batch_size,
                )
            )
        except FeedError as exc:
            error = str(exc)
            if progress.batches:
                error += f" ({progress.total} items before it were read, {progress.batches} batches queued)"
        finally:
            fetched.close()

        # With batches in flight the log stays processing (error set) until the last is done.
        status = ImportStatus.FAILED if error and not progress.batches else ImportStatus.PROCESSING
        parse = ParseRecord(
            status=status,
            fetched_at=utcnow(),
            http_status=fetched.status_code,
            size=fetched.size,
            total=progress.total,
            batches=progress.batches,
            batch_size=self.settings.import_batch_size,
            failed=progress.failed,
            failures=progress.failures,
            failed_limit=self.settings.import_failed_jobs_limit,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            error=error,
        )
        await self.record_parse(log_id, parse)
        metrics.RUNS.labels(url, "failed" if status is ImportStatus.FAILED else "queued").inc()
        metrics.ITEMS.labels(url, "fetched").inc(progress.total)
        metrics.ITEMS.labels(url, "failed").inc(progress.failed)
        bound.info(
            "import_queued",
            items=progress.total,
            batches=progress.batches,
            failed=progress.failed,
            error=error,
        )
        return ImportOutcome(
            str(log_id), url, status, progress.total, progress.batches, progress.failed, error
        )

    async def resume_stalled(self, before: datetime) -> int:
        """Send again what Redis lost of imports that made no progress since ``before``.

        An import lives in Redis while it runs: its run message, then its batches. A Redis
        failover or restart can lose them, and the import would wait for ever. Every message
        id is known (the run's is ``<log id>:run``, a batch's its batch id), so what is missing
        is found and sent again: a pending import's run message, a processing import's
        unapplied batches (re-cut from the stored raw feed). Nothing already applied is sent
        twice, and a batch sent twice counts once anyway. Returns how many messages were sent.
        """
        assert isinstance(self.broker, RedisBroker)
        sent = 0
        for stalled in await self.logs.stalled(before):
            log_id, url = stalled.id, stalled.feed_url
            resent = 0
            unclaimed = stalled.started_at is None or await self._runner_dead(stalled)
            if stalled.status == ImportStatus.PENDING and unclaimed:
                run_id = f"{log_id}:run"
                if not messages_present(self.broker, [(Queue.IMPORTS.value, run_id)])[0]:
                    payload = RunFeedPayload(import_log_id=str(log_id), feed_url=url)
                    enqueue(self.broker, ActorName.IMPORT_RUN_FEED, payload, message_id=run_id)
                    resent = 1
            elif stalled.status == ImportStatus.PROCESSING and stalled.batches_total and stalled.batch_size:
                applied = set(stalled.applied_batch_ids)
                waiting = [n for n in range(stalled.batches_total) if f"{log_id}:{n}" not in applied]
                present = messages_present(
                    self.broker, [(Queue.IMPORTS.value, f"{log_id}:{n}") for n in waiting]
                )
                missing = {n for n, there in zip(waiting, present, strict=True) if not there}
                if missing:
                    body = io.BytesIO(await self.raw.load(log_id))
                    resend = functools.partial(
                        self._parse_and_enqueue,
                        body,
                        url,
                        log_id,
                        _ParseProgress(),
                        size=stalled.batch_size,
                        only=missing,
                    )
                    await asyncio.to_thread(resend)
                    resent = len(missing)
            await self.logs.touch(log_id)
            if resent:
                log.warning("import_resumed", import_log_id=str(log_id), feed_url=url, resent=resent)
            sent += resent
        return sent

    async def _runner_dead(self, claimed: ImportLog) -> bool:
        return self.liveness is not None and await self.liveness.is_dead(claimed.runner)

    async def _take_over(self, claimed: ImportLog) -> bool:
        """A redelivered run message whose runner died (killed mid-fetch): the run is ours."""
        dead = claimed.runner
        if dead is None or not await self._runner_dead(claimed):
            return False
        if not await self.logs.take_over(claimed.id, dead_runner=dead, runner=self.runner):
            return False
        log.warning(
            "import_taken_over", import_log_id=str(claimed.id), feed_url=claimed.feed_url, error=WORKER_LOST
        )
        return True

    async def record_parse(self, log_id: Oid, parse: ParseRecord) -> None:
        """The runner's one write of what it found; then the log is finished if nothing (or
        nothing any more) is in flight, and the feed told where its import is."""
        await self.logs.record_parse(log_id, parse)
        finished = await self.logs.complete_if_done(log_id)
        current = finished or await self.logs.get(log_id)
        if current is not None:
            await self.sources.record_run(current)

    async def _fail(self, log_id: Oid, url: str, error: str, bound: Any) -> ImportOutcome:
        finished = await self.logs.finish(log_id, ImportStatus.FAILED, error=error)
        if finished is not None:
            await self.sources.record_run(finished)
        bound.warning("import_failed", error=error)
        return ImportOutcome(str(log_id), url, ImportStatus.FAILED, error=error)

    def _parse_and_enqueue(
        self,
        body: IO[bytes],
        url: str,
        log_id: Oid,
        progress: _ParseProgress,
        *,
        size: int,
        only: set[int] | None = None,
    ) -> None:
        """Runs in a thread: parsing is CPU work and Dramatiq's enqueue is blocking I/O.

        ``only``: send just these batches (a resume); the others are counted, not sent.
        """
        batch: list[dict[str, Any]] = []

        def send() -> None:
            if only is None or progress.batches in only:
                batch_id = f"{log_id}:{progress.batches}"
                payload = ApplyBatchPayload(
                    import_log_id=str(log_id), batch_id=batch_id, feed_url=url, jobs=batch
                )
                # the batch id is the message id: a resume can ask Redis whether it is still queued
                enqueue(self.broker, ActorName.IMPORT_APPLY_BATCH, payload, message_id=batch_id)
            progress.batches += 1

        for entry in iter_feed(body, url):
            progress.total += 1
            if isinstance(entry, ItemFailure):
                progress.failed += 1
                if len(progress.failures) < self.settings.import_failed_jobs_limit:
                    progress.failures.append(FailedJob(id=entry.id, reason=entry.reason))
                continue
            batch.append({"externalId": entry.external_id, **entry.fields})
            if len(batch) >= size:
                send()
                batch = []
        if batch:
            send()
