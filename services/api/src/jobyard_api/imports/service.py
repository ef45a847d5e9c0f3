"""Imports: start a run (queued to the worker), list and read import logs."""

from __future__ import annotations

from datetime import timedelta

from dramatiq import Broker
from jobyard_libs.audit import AuditAction
from jobyard_libs.auth import Principal
from jobyard_libs.documents import Oid
from jobyard_libs.errors import Conflict, NotFoundError, ServiceUnavailable, ValidationFailed, found
from jobyard_libs.imports.documents import ImportLog
from jobyard_libs.imports.feed_sources import FeedSourceRepository
from jobyard_libs.imports.import_logs import ImportLogRepository, OnChange
from jobyard_libs.imports.models import ImportStatus, ImportTrigger
from jobyard_libs.imports.replies import ImportRun
from jobyard_libs.listing import Slice, Window
from jobyard_libs.mongo import Database
from jobyard_libs.queue.contracts import ActorName, RunFeedPayload
from jobyard_libs.queue.sender import enqueue
from jobyard_libs.request_id import current_request_id
from redis.exceptions import RedisError

from jobyard_api.audit.service import AuditService


class ImportLogNotFound(NotFoundError):
    message = "import log not found"


class NoFeedSources(Conflict):
    code, message = "no_feed_sources", "there is no enabled feed source to import"


class ImportService:
    def __init__(
        self,
        db: Database,
        broker: Broker,
        on_change: OnChange,
        audit: AuditService,
        *,
        stale_after: timedelta,
    ) -> None:
        self.audit = audit
        self.stale_after = stale_after
        self.logs = ImportLogRepository(db, on_change)
        self.sources = FeedSourceRepository(db)
        self.broker = broker

    async def start(self, feed_urls: list[str] | None, admin: Principal) -> list[ImportRun]:
        """One run per source; a source whose import is already running is joined, not run twice."""
        sources, unknown = await self.sources.to_import(feed_urls)
        if unknown:
            raise ValidationFailed(f"not a feed source: {', '.join(unknown)}", field="feedUrls")
        if not sources:
            raise NoFeedSources()
        runs: list[ImportRun] = []
        for source in sources:
            log_id, joined = await self.logs.create(
                feed_url=source.url,
                source_id=source.id,
                trigger=ImportTrigger.API,
                request_id=current_request_id(),
                requested_by=admin.subject,
                stale_after=self.stale_after,
            )
            if not joined:
                payload = RunFeedPayload(import_log_id=str(log_id), feed_url=source.url)
                try:
                    # a known message id: the scheduler can tell if Redis lost it (resume_stalled)
                    enqueue(self.broker, ActorName.IMPORT_RUN_FEED, payload, message_id=f"{log_id}:run")
                except RedisError as exc:
                    await self.logs.finish(
                        log_id, ImportStatus.FAILED, error="the queue (Redis) is unavailable"
                    )
                    raise ServiceUnavailable("the queue is unavailable; the import was not started") from exc
            runs.append(ImportRun(feed_url=source.url, import_log_id=str(log_id), joined=joined))
            await self.audit.record(
                AuditAction.IMPORT_STARTED, admin, ("import_log", str(log_id)), url=source.url, joined=joined
            )
        return runs

    async def page(
        self, window: Window, *, feed_url: str | None, status: ImportStatus | None
    ) -> Slice[ImportLog]:
        return await self.logs.page(window, feed_url=feed_url, status=status)

    async def get(self, log_id: Oid) -> ImportLog:
        return found(await self.logs.get(log_id), ImportLogNotFound)
