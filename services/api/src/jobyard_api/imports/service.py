"""Imports: start a run (queued to the worker), list and read import logs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dramatiq import Broker
from jobyard_libs.errors import Conflict, NotFoundError, ServiceUnavailable, ValidationFailed
from jobyard_libs.events import EventPublisher
from jobyard_libs.imports.feed_sources import FeedSourceRepository
from jobyard_libs.imports.import_logs import ImportLogRepository
from jobyard_libs.imports.models import ImportStatus, ImportTrigger
from jobyard_libs.mongo import Database, Document
from jobyard_libs.queue.contracts import ActorName, RunFeedPayload
from jobyard_libs.queue.sender import enqueue
from jobyard_libs.request_id import current_request_id
from redis.exceptions import RedisError

from jobyard_api.ids import object_id
from jobyard_api.imports.schemas import ImportLogDetail, ImportLogOut, ImportRun


class ImportLogNotFound(NotFoundError):
    message = "import log not found"


class NoFeedSources(Conflict):
    code, message = "no_feed_sources", "there is no enabled feed source to import"


def _counts(doc: Document) -> dict[str, Any]:
    return {
        "id": str(doc["_id"]),
        "feed_url": doc["feedUrl"],
        "file_name": doc.get("fileName", doc["feedUrl"]),
        "status": doc["status"],
        "trigger": doc["trigger"],
        "timestamp": doc["timestamp"],
        "started_at": doc.get("startedAt"),
        "finished_at": doc.get("finishedAt"),
        "total_fetched": doc["totalFetched"],
        "total_imported": doc["totalImported"],
        "new_jobs": doc["newJobs"],
        "updated_jobs": doc["updatedJobs"],
        "unchanged_jobs": doc["unchangedJobs"],
        "failed_count": doc["failedCount"],
        "batches_total": doc.get("batchesTotal"),
        "batches_applied": doc["batchesApplied"],
        "batches_failed": doc["batchesFailed"],
        "error": doc.get("error"),
    }


def to_out(doc: Document) -> ImportLogOut:
    return ImportLogOut(**_counts(doc))


def to_detail(doc: Document) -> ImportLogDetail:
    return ImportLogDetail(
        **_counts(doc),
        failed_jobs=doc.get("failedJobs", []),
        fetched_at=doc.get("fetchedAt"),
        http_status=doc.get("httpStatus"),
        bytes=doc.get("bytes"),
        request_id=doc.get("requestId"),
    )


class ImportService:
    def __init__(
        self,
        db: Database,
        broker: Broker,
        events: EventPublisher | None = None,
        *,
        stale_after: timedelta = timedelta(minutes=30),
    ) -> None:
        self.stale_after = stale_after
        self.logs = ImportLogRepository(db, events.import_changed if events else None)
        self.sources = FeedSourceRepository(db)
        self.broker = broker

    async def start(self, feed_urls: list[str] | None, requested_by: str | None = None) -> list[ImportRun]:
        """One run per source; a source whose import is already running is joined, not run twice."""
        if feed_urls:
            sources = await self.sources.by_urls(feed_urls)
            unknown = sorted(set(feed_urls) - {s["url"] for s in sources})
            if unknown:
                raise ValidationFailed(f"not a feed source: {', '.join(unknown)}", field="feedUrls")
        else:
            sources = await self.sources.enabled()
        if not sources:
            raise NoFeedSources()
        runs: list[ImportRun] = []
        for source in sources:
            url = source["url"]
            log_id, joined = await self.logs.create(
                feed_url=url,
                source_id=source["_id"],
                trigger=ImportTrigger.API,
                request_id=current_request_id(),
                requested_by=requested_by,
                stale_after=self.stale_after,
            )
            if not joined:
                payload = RunFeedPayload(import_log_id=str(log_id), feed_url=url)
                try:
                    # a known message id: the scheduler can tell if Redis lost it (resume_stalled)
                    enqueue(self.broker, ActorName.IMPORT_RUN_FEED, payload, message_id=f"{log_id}:run")
                except RedisError as exc:
                    await self.logs.finish(
                        log_id, ImportStatus.FAILED, error="the queue (Redis) is unavailable"
                    )
                    raise ServiceUnavailable("the queue is unavailable; the import was not started") from exc
            runs.append(ImportRun(feed_url=url, import_log_id=str(log_id), joined=joined))
        return runs

    async def page(
        self, *, feed_url: str | None, status: ImportStatus | None, skip: int, limit: int
    ) -> tuple[list[Document], int]:
        query: Document = {}
        if feed_url:
            query["feedUrl"] = feed_url
        if status:
            query["status"] = status.value
        return await self.logs.page(query, skip, limit)

    async def get(self, log_id: str) -> Document:
        oid = object_id(log_id)
        doc = await self.logs.get(oid) if oid else None
        if doc is None:
            raise ImportLogNotFound()
        return doc
