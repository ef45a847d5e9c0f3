"""The ``import_logs`` collection: one document per feed per run, updated atomically.

Counters only move through ``$inc`` guarded by the batch id, so a batch delivered twice
counts once; the log finishes when every queued batch is applied or dead.

One import per feed at a time: a log holds ``activeFeedUrl`` (unique while set) from its
creation until it finishes, so a second start for a feed whose import runs (the hourly
CronJob, an admin's "Import now", a task) joins that run instead of splitting its counts
over two logs. A run that made no progress for ``stale_after`` (its worker died) is
abandoned (``failed``) and a new one starts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.errors import DuplicateKeyError

from jobyard_libs.imports.models import FINISHED, ImportStatus, ImportTrigger
from jobyard_libs.mongo import Database, Document, IndexSpec, hint_for, utcnow

COLLECTION = "import_logs"
STALE_START = timedelta(minutes=35)  # longer than the run_feed actor's 30-minute time limit
NEWEST = [("timestamp", -1), ("_id", -1)]
FILTER_INDEXES = [  # in order of preference
    IndexSpec(COLLECTION, [("feedUrl", 1), ("status", 1), *NEWEST]),
    IndexSpec(COLLECTION, [("status", 1), *NEWEST]),
]
LIST_INDEX = IndexSpec(COLLECTION, NEWEST)
PER_FEED_INDEX = IndexSpec(COLLECTION, [("feedUrl", 1), *NEWEST])  # a feed's latest runs (the monitor)
ACTIVE_INDEX = IndexSpec(  # one running import per feed
    COLLECTION, [("activeFeedUrl", 1)], unique=True, partial_filter={"activeFeedUrl": {"$type": "string"}}
)
STALLED_INDEX = IndexSpec(COLLECTION, [("status", 1), ("progressAt", 1)])  # runs to resume
INDEXES = [LIST_INDEX, *FILTER_INDEXES, PER_FEED_INDEX, ACTIVE_INDEX, STALLED_INDEX]
DEFAULT_STALE_AFTER = timedelta(minutes=30)
FINISHED_VALUES = [status.value for status in FINISHED]


Notify = Callable[[Document], Awaitable[None]]


class ImportLogRepository:
    """``notify`` (optional) hears status and progress changes: live updates come from it."""

    def __init__(self, db: Database, notify: Notify | None = None) -> None:
        self.collection = db[COLLECTION]
        self.notify = notify

    async def _changed(self, log_id: ObjectId) -> None:
        if self.notify is not None:
            doc = await self.collection.find_one({"_id": log_id}, {"failedJobs": 0, "appliedBatchIds": 0})
            if doc is not None:
                await self.notify(doc)

    async def create(
        self,
        *,
        feed_url: str,
        source_id: ObjectId | None,
        trigger: ImportTrigger,
        request_id: str | None,
        requested_by: str | None = None,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
    ) -> tuple[ObjectId, bool]:
        """A new log for this feed, or the running one: ``(log id, joined)``."""
        for _ in range(5):  # a running import may finish, or be abandoned, between two looks
            try:
                return await self._insert(feed_url, source_id, trigger, request_id, requested_by), False
            except DuplicateKeyError:
                running = await self.collection.find_one({"activeFeedUrl": feed_url}, {"progressAt": 1})
                if running is None:
                    continue
                if running.get("progressAt") is not None and running["progressAt"] < utcnow() - stale_after:
                    await self.abandon(running["_id"], stale_after)
                    continue
                running_id: ObjectId = running["_id"]
                return running_id, True
        raise RuntimeError(f"could not start or join an import of {feed_url}")

    async def abandon(self, log_id: ObjectId, stale_after: timedelta) -> None:
        """A run whose runner died: failed, and no longer the feed's running import."""
        minutes = int(stale_after.total_seconds() // 60)
        await self.finish(log_id, ImportStatus.FAILED, error=f"abandoned: no progress for {minutes} minutes")

    async def _insert(
        self,
        feed_url: str,
        source_id: ObjectId | None,
        trigger: ImportTrigger,
        request_id: str | None,
        requested_by: str | None,
    ) -> ObjectId:
        now = utcnow()
        doc: Document = {
            "activeFeedUrl": feed_url,
            "progressAt": now,
            "feedUrl": feed_url,
            "fileName": feed_url,
            "feedSourceId": source_id,
            "trigger": trigger.value,
            "requestId": request_id,
            "requestedBy": requested_by,
            "status": ImportStatus.PENDING.value,
            "timestamp": now,
            "startedAt": None,
            "fetchedAt": None,
            "finishedAt": None,
            "httpStatus": None,
            "bytes": None,
            "totalFetched": 0,
            "totalImported": 0,
            "newJobs": 0,
            "updatedJobs": 0,
            "unchangedJobs": 0,
            "failedCount": 0,
            "failedJobs": [],
            "batchesTotal": None,
            "batchesApplied": 0,
            "batchesFailed": 0,
            "batchesDone": 0,
            "appliedBatchIds": [],
            "error": None,
        }
        inserted: ObjectId = (await self.collection.insert_one(doc)).inserted_id
        return inserted

    async def stalled(self, before: datetime, limit: int = 50) -> list[Document]:
        """Running imports (pending or processing) that made no progress since ``before``."""
        found: list[Document] = []
        for status in (ImportStatus.PENDING, ImportStatus.PROCESSING):
            query = {"status": status.value, "progressAt": {"$lt": before}}
            projection = {"failedJobs": 0}
            found += await self.collection.find(query, projection).limit(limit).to_list()
        return found

    async def touch(self, log_id: ObjectId) -> None:
        await self.collection.update_one({"_id": log_id}, {"$set": {"progressAt": utcnow()}})

    async def get(self, log_id: ObjectId) -> Document | None:
        return await self.collection.find_one({"_id": log_id})

    async def start(self, log_id: ObjectId, *, stale_after: timedelta = STALE_START) -> bool:
        """Claim a pending log; ``False`` when another runner has it.

        A claim older than ``stale_after`` belongs to a runner that died (a worker killed
        while fetching): it is taken over. Batch ids are deterministic, so batches the dead
        runner queued and the new one queues again count once.
        """
        now = utcnow()
        result = await self.collection.update_one(
            {
                "_id": log_id,
                "status": ImportStatus.PENDING.value,
                "startedAt": {"$not": {"$gte": now - stale_after}},  # unclaimed, or claimed long ago
            },
            {"$set": {"startedAt": now, "progressAt": now}},
        )
        return result.modified_count == 1

    async def set_fields(self, log_id: ObjectId, fields: dict[str, Any]) -> None:
        update: Document = {"$set": {**fields, "progressAt": utcnow()}}
        if fields.get("status") in FINISHED_VALUES:
            update["$unset"] = {"activeFeedUrl": ""}  # the feed may be imported again
        await self.collection.update_one({"_id": log_id}, update)
        if "status" in fields:
            await self._changed(log_id)

    async def finish(
        self, log_id: ObjectId, status: ImportStatus, *, error: str | None = None, **fields: Any
    ) -> None:
        await self.set_fields(
            log_id, {"status": status.value, "finishedAt": utcnow(), "error": error, **fields}
        )

    async def record_batch(
        self,
        log_id: ObjectId,
        batch_id: str,
        *,
        counts: dict[str, int],
        failures: list[dict[str, str]],
        failed_limit: int,
        dead_error: str | None = None,
    ) -> bool:
        """Add one batch's outcome once; ``False`` when this batch was recorded before.

        ``dead_error`` marks a batch that exhausted its retries: it counts as done, failed.
        """
        inc = {**counts, "batchesDone": 1, ("batchesFailed" if dead_error else "batchesApplied"): 1}
        inc["failedCount"] = inc.get("failedCount", 0) + len(failures)
        update: Document = {
            "$inc": inc,
            "$push": {
                "appliedBatchIds": batch_id,
                "failedJobs": {"$each": failures, "$slice": failed_limit},
            },
            "$set": {"progressAt": utcnow()},
        }
        if dead_error:
            update["$set"]["error"] = dead_error
        result = await self.collection.update_one(
            {"_id": log_id, "appliedBatchIds": {"$ne": batch_id}}, update
        )
        if result.modified_count == 1:
            await self._changed(log_id)
        return result.modified_count == 1

    async def complete_if_done(self, log_id: ObjectId) -> Document | None:
        """processing → completed once every batch is done; failed if one died or the feed broke."""
        doc = await self.get(log_id)
        if doc is None or doc["status"] != ImportStatus.PROCESSING.value:
            return None
        total = doc["batchesTotal"]
        if total is None or doc["batchesDone"] < total:
            return None
        status = ImportStatus.FAILED if doc["batchesFailed"] or doc.get("error") else ImportStatus.COMPLETED
        result = await self.collection.update_one(
            {"_id": log_id, "status": ImportStatus.PROCESSING.value, "batchesDone": total},
            {"$set": {"status": status.value, "finishedAt": utcnow()}, "$unset": {"activeFeedUrl": ""}},
        )
        if result.modified_count != 1:
            return None
        await self._changed(log_id)
        return doc

    def listing(self, query: Document) -> AsyncCursor[Document]:
        """Newest first, without the long lists, through the index the filters call for."""
        projection = {"failedJobs": 0, "appliedBatchIds": 0}
        return self.collection.find(query, projection).sort(NEWEST).hint(_hint(query))

    async def page(self, query: Document, skip: int, limit: int) -> tuple[list[Document], int]:
        items = await self.listing(query).skip(skip).limit(limit).to_list()
        return items, await self.collection.count_documents(query, hint=_hint(query))


def _hint(query: Document) -> str:
    return hint_for(query, FILTER_INDEXES) or LIST_INDEX.name
