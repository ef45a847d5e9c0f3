"""The ``import_logs`` collection: one document per feed per run, updated atomically.

One writer per field: the runner writes what the fetch and the parse found (once,
:meth:`ImportLogRepository.record_parse`), batches write what they applied; the counters
and the failed items both write (``failedCount``, ``failedJobs``) only ever move by
``$inc``/``$push``, never ``$set``, so neither side can lose the other's, whatever order
they land in. A batch's ``$inc`` is guarded by its batch id, so a batch delivered twice
counts once; the log finishes when every queued batch is applied or dead. Every change a
person watching should see is told to ``on_change`` (the live import events): a required
argument, so it cannot be forgotten (pass :data:`UNWATCHED` where nobody watches).

One import per feed at a time: a lock document in ``import_locks``, keyed by the feed's URL
(``_id``) and naming the running log, is inserted before the log and deleted when the log
finishes, so a second start for a feed whose import runs (the hourly CronJob, an admin's
"Import now", a task) joins that run instead of splitting its counts over two logs. A run
that made no progress for ``stale_after`` (its worker died) is abandoned (``failed``) and
a new one starts; a lock whose log finished or never came to be (its process died between
the two inserts) is freed by the next start. No unique-indexed field is ever updated, only
inserted and deleted: every MongoDB-wire server agrees on that (docs/testing.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bson import ObjectId
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.errors import DuplicateKeyError, OperationFailure

from jobyard_libs.documents import Changes
from jobyard_libs.imports.documents import FailedJob, ImportLog
from jobyard_libs.imports.models import FINISHED, ImportStatus, ImportTrigger
from jobyard_libs.listing import Slice, Window, paginate
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
STALLED_INDEX = IndexSpec(COLLECTION, [("status", 1), ("progressAt", 1)])  # runs to resume
INDEXES = [LIST_INDEX, *FILTER_INDEXES, PER_FEED_INDEX, STALLED_INDEX]
LOCKS = "import_locks"  # {_id: feed URL, logId, at}: the feed's running import
ORPHAN_LOCK = timedelta(minutes=1)  # a lock whose log is still missing after this was left by a crash
DEFAULT_STALE_AFTER = timedelta(minutes=30)
FINISHED_VALUES = [status.value for status in FINISHED]
WITHOUT_LONG_LISTS = {"failedJobs": 0, "appliedBatchIds": 0}

OnChange = Callable[[ImportLog], Awaitable[None]]


@dataclass(frozen=True)
class BatchCounts:
    """What one applied batch did to the postings (``record_batch`` adds it to the log once)."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0


class ImportLogChanges(Changes):
    """What may change of an import log directly (``ImportLogRepository.change``)."""

    status: ImportStatus | None = None
    started_at: datetime | None = None
    fetched_at: datetime | None = None
    finished_at: datetime | None = None
    http_status: int | None = None
    total_fetched: int | None = None
    batches_total: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class ParseRecord:
    """What one run's fetch and parse found (the runner's part of its log)."""

    status: ImportStatus  # processing (batches queued) or failed (nothing to apply)
    fetched_at: datetime
    http_status: int
    size: int
    total: int
    batches: int
    batch_size: int
    failed: int
    failures: list[FailedJob]
    failed_limit: int
    etag: str | None
    last_modified: str | None
    error: str | None


def list_query(feed_url: str | None, status: ImportStatus | None) -> Document:
    query: Document = {}
    if feed_url:
        query["feedUrl"] = feed_url
    if status:
        query["status"] = status.value
    return query


def list_index(query: Document) -> IndexSpec:
    """The index a listing with this filter walks (named as :func:`~jobyard_libs.mongo.hint_of` says)."""
    return hint_for(query, FILTER_INDEXES, LIST_INDEX)


async def UNWATCHED(log: ImportLog) -> None:
    """``on_change`` for code nobody watches live (tools, tests): the choice is explicit."""


class ImportLogRepository:
    def __init__(self, db: Database, on_change: OnChange) -> None:
        self.collection = db[COLLECTION]
        self.locks = db[LOCKS]
        self.on_change = on_change

    async def _changed(self, log_id: ObjectId) -> None:
        log = ImportLog.from_mongo(await self.collection.find_one({"_id": log_id}, WITHOUT_LONG_LISTS))
        if log is not None:
            await self.on_change(log)

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
            now = utcnow()
            log = ImportLog(
                feed_url=feed_url,
                file_name=feed_url,
                feed_source_id=source_id,
                trigger=trigger,
                request_id=request_id,
                requested_by=requested_by,
                progress_at=now,
                timestamp=now,
            )
            try:
                await self.locks.insert_one({"_id": feed_url, "logId": log.id, "at": now})
            except DuplicateKeyError:
                lock = await self.locks.find_one({"_id": feed_url})
                if lock is None:
                    continue
                if await self._runs(lock, stale_after):
                    running_id: ObjectId = lock["logId"]
                    return running_id, True
                await self.locks.delete_one({"_id": feed_url, "logId": lock["logId"]})
                continue
            await self.collection.insert_one(log.to_mongo())
            return log.id, False
        raise RuntimeError(f"could not start or join an import of {feed_url}")

    async def _runs(self, lock: Document, stale_after: timedelta) -> bool:
        """Whether the lock's import still runs; a stalled one is abandoned on the way."""
        running = await self.collection.find_one({"_id": lock["logId"]}, {"status": 1, "progressAt": 1})
        if running is None:  # being created, or its creator died between the two inserts
            return bool(lock["at"] > utcnow() - ORPHAN_LOCK)
        if running["status"] in FINISHED_VALUES:  # finished, and its release was lost
            return False
        if running.get("progressAt") is not None and running["progressAt"] < utcnow() - stale_after:
            await self.abandon(running["_id"], stale_after)
            return False
        return True

    async def _release(self, log_id: ObjectId) -> None:
        """The feed may import again: its finished log gives up the lock."""
        await self.locks.delete_one({"logId": log_id})

    async def lock_running_imports(self) -> int:
        """Migration from versions that marked a running log with a unique ``activeFeedUrl``:
        each such log gets its lock, then the index and the field go. How many were running."""
        old = await self.collection.find(
            {"activeFeedUrl": {"$type": "string"}}, {"activeFeedUrl": 1}
        ).to_list()
        for log in old:
            with contextlib.suppress(DuplicateKeyError):
                await self.locks.insert_one(
                    {"_id": log["activeFeedUrl"], "logId": log["_id"], "at": utcnow()}
                )
        with contextlib.suppress(OperationFailure):  # a database that never had it
            await self.collection.drop_index("activeFeedUrl_1")
        if old:
            await self.collection.update_many(
                {"activeFeedUrl": {"$exists": True}}, {"$unset": {"activeFeedUrl": ""}}
            )
        return len(old)

    async def abandon(self, log_id: ObjectId, stale_after: timedelta) -> None:
        """A run whose runner died: failed, and no longer the feed's running import."""
        minutes = int(stale_after.total_seconds() // 60)
        await self.finish(log_id, ImportStatus.FAILED, error=f"abandoned: no progress for {minutes} minutes")

    async def stalled(self, before: datetime, limit: int = 50) -> list[ImportLog]:
        """Running imports (pending or processing) that made no progress since ``before``."""
        found: list[ImportLog] = []
        for status in (ImportStatus.PENDING, ImportStatus.PROCESSING):
            query = {"status": status.value, "progressAt": {"$lt": before}}
            found += ImportLog.many(
                await self.collection.find(query, {"failedJobs": 0}).limit(limit).to_list()
            )
        return found

    async def touch(self, log_id: ObjectId) -> None:
        await self.collection.update_one({"_id": log_id}, {"$set": {"progressAt": utcnow()}})

    async def get(self, log_id: ObjectId) -> ImportLog | None:
        return ImportLog.from_mongo(await self.collection.find_one({"_id": log_id}))

    async def start(
        self, log_id: ObjectId, *, runner: str | None = None, stale_after: timedelta = STALE_START
    ) -> bool:
        """Claim a pending log for ``runner`` (a worker's broker id; ``None`` for a process that
        does not beat, the CronJob's); ``False`` when another runner has it.

        A claim older than ``stale_after`` belongs to a runner that died (a worker killed
        while fetching): it is taken over. A claim whose runner stopped beating is taken over
        sooner (:meth:`take_over`). Batch ids are deterministic, so batches the dead runner
        queued and the new one queues again count once.
        """
        now = utcnow()
        result = await self.collection.update_one(
            {
                "_id": log_id,
                "status": ImportStatus.PENDING.value,
                "startedAt": {"$not": {"$gte": now - stale_after}},  # unclaimed, or claimed long ago
            },
            {"$set": {"startedAt": now, "progressAt": now, "runner": runner}},
        )
        return result.modified_count == 1

    async def take_over(self, log_id: ObjectId, *, dead_runner: str, runner: str | None) -> bool:
        """Claim a pending log whose runner ``dead_runner`` died (its heartbeat expired)."""
        now = utcnow()
        result = await self.collection.update_one(
            {"_id": log_id, "status": ImportStatus.PENDING.value, "runner": dead_runner},
            {"$set": {"startedAt": now, "progressAt": now, "runner": runner}},
        )
        return result.modified_count == 1

    async def change(self, log_id: ObjectId, changes: ImportLogChanges) -> None:
        """Make ``changes``; a finished status frees the feed for its next run."""
        update: Document = {"$set": {**changes.to_set(), "progressAt": utcnow()}}
        await self.collection.update_one({"_id": log_id}, update)
        if changes.status is not None and changes.status in FINISHED:
            await self._release(log_id)
        if changes.status is not None:
            await self._changed(log_id)

    async def finish(
        self,
        log_id: ObjectId,
        status: ImportStatus,
        *,
        error: str | None = None,
        fetched_at: datetime | None = None,
        http_status: int | None = None,
    ) -> ImportLog | None:
        """Finish the run now (a fetch that failed, a 304, an abandoned run); the log as finished."""
        changes = ImportLogChanges(status=status, finished_at=utcnow(), error=error)
        if fetched_at is not None:
            changes.fetched_at = fetched_at
        if http_status is not None:
            changes.http_status = http_status
        await self.change(log_id, changes)
        return await self.get(log_id)

    async def record_parse(self, log_id: ObjectId, parse: ParseRecord) -> None:
        """What the fetch and the parse found: written once, by the runner. The parse's failed
        items are added (``$inc``/``$push``) beside those of batches that may have landed first."""
        fields = {
            "status": parse.status.value,
            "fetchedAt": parse.fetched_at,
            "httpStatus": parse.http_status,
            "bytes": parse.size,
            "totalFetched": parse.total,
            "batchesTotal": parse.batches,
            "batchSize": parse.batch_size,  # what a resume re-cuts the feed with
            "etag": parse.etag,
            "lastModified": parse.last_modified,
            "progressAt": utcnow(),
        }
        if parse.error is not None:
            fields["error"] = parse.error
        update: Document = {
            "$set": fields,
            "$inc": {"failedCount": parse.failed},
            "$push": {
                "failedJobs": {
                    "$each": [f.model_dump() for f in parse.failures],
                    "$slice": parse.failed_limit,
                }
            },
        }
        if parse.status in FINISHED:
            fields["finishedAt"] = utcnow()
        await self.collection.update_one({"_id": log_id}, update)
        if parse.status in FINISHED:
            await self._release(log_id)
        await self._changed(log_id)

    async def record_batch(
        self,
        log_id: ObjectId,
        batch_id: str,
        *,
        counts: BatchCounts,
        failures: list[FailedJob],
        failed_limit: int,
        dead_error: str | None = None,
    ) -> bool:
        """Add one batch's outcome once; ``False`` when this batch was recorded before.

        ``dead_error`` marks a batch that exhausted its retries: it counts as done, failed.
        """
        inc = {
            "newJobs": counts.new,
            "updatedJobs": counts.updated,
            "unchangedJobs": counts.unchanged,
            "totalImported": counts.new + counts.updated + counts.unchanged,
            "failedCount": len(failures),
            "batchesDone": 1,
            ("batchesFailed" if dead_error else "batchesApplied"): 1,
        }
        update: Document = {
            "$inc": inc,
            "$push": {
                "appliedBatchIds": batch_id,
                "failedJobs": {"$each": [f.model_dump() for f in failures], "$slice": failed_limit},
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

    async def complete_if_done(self, log_id: ObjectId) -> ImportLog | None:
        """processing → completed once every batch is done; failed if one died or the feed broke.
        The log as finished, to the one caller that finished it; ``None`` to every other."""
        log = await self.get(log_id)
        if log is None or log.status != ImportStatus.PROCESSING:
            return None
        total = log.batches_total
        if total is None or log.batches_done < total:
            return None
        status = ImportStatus.FAILED if log.batches_failed or log.error else ImportStatus.COMPLETED
        result = await self.collection.update_one(
            {"_id": log_id, "status": ImportStatus.PROCESSING.value, "batchesDone": total},
            {"$set": {"status": status.value, "finishedAt": utcnow()}},
        )
        if result.modified_count != 1:
            return None
        await self._release(log_id)
        await self._changed(log_id)
        return await self.get(log_id)

    async def page(
        self, window: Window, *, feed_url: str | None, status: ImportStatus | None
    ) -> Slice[ImportLog]:
        """Newest first, without the long lists, through the index the filters call for."""
        query = list_query(feed_url, status)
        return await paginate(
            self.collection,
            query,
            NEWEST,
            list_index(query),
            window,
            ImportLog,
            projection=WITHOUT_LONG_LISTS,
        )

    async def latest(self, feed_url: str, count: int) -> list[ImportLog]:
        """A feed's newest runs, newest first (the monitor's feed health)."""
        return ImportLog.many(await self.latest_cursor(feed_url, count).to_list())

    def latest_cursor(self, feed_url: str, count: int) -> AsyncCursor[Document]:
        """The walk :meth:`latest` reads (its plan is checked in the tests). Unhinted (the
        rule of :func:`~jobyard_libs.mongo.hint_of`): one feed pins ``PER_FEED_INDEX``'s
        leading field, so every planner picks it."""
        return self.collection.find({"feedUrl": feed_url}, WITHOUT_LONG_LISTS).sort(NEWEST).limit(count)
