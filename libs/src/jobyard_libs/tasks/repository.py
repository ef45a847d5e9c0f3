"""The ``tasks``, ``executions`` and ``dead_letters`` collections.

Firing a scheduled run is a conditional update on the task's ``nextRunAt``, and an
execution is unique on ``(taskId, scheduledFor)``: two schedulers that both believe they
lead still create one execution per run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.errors import DuplicateKeyError

from jobyard_libs.mongo import Database, Document, IndexSpec, hint_for, update_by_id, utcnow
from jobyard_libs.tasks.models import ExecutionStatus, TaskStatus

TASKS = "tasks"
EXECUTIONS = "executions"
DEAD_LETTERS = "dead_letters"
NEWEST = [("createdAt", -1), ("_id", -1)]
MARK_SLICE = 100
TASK_FILTERS = [  # in order of preference; every list is per owner or (admin) over all
    IndexSpec(TASKS, [("ownerId", 1), ("status", 1), *NEWEST]),
    IndexSpec(TASKS, [("ownerId", 1), ("kind", 1), *NEWEST]),
    IndexSpec(TASKS, [("ownerId", 1), ("type", 1), *NEWEST]),
    IndexSpec(TASKS, [("ownerId", 1), *NEWEST]),
    IndexSpec(TASKS, [("status", 1), *NEWEST]),
    IndexSpec(TASKS, [("kind", 1), *NEWEST]),
    IndexSpec(TASKS, [("type", 1), *NEWEST]),
]
TASK_LIST = IndexSpec(TASKS, NEWEST)
EXECUTION_LIST = IndexSpec(EXECUTIONS, [("taskId", 1), *NEWEST])
DEAD_LETTER_FILTERS = [IndexSpec(DEAD_LETTERS, [("ownerId", 1), *NEWEST])]
DEAD_LETTER_LIST = IndexSpec(DEAD_LETTERS, NEWEST)
INDEXES = [
    *TASK_FILTERS,
    TASK_LIST,
    IndexSpec(TASKS, [("status", 1), ("nextRunAt", 1)]),  # what is due
    IndexSpec(
        TASKS,
        [("ownerId", 1), ("idempotencyKey", 1)],
        unique=True,
        partial_filter={"idempotencyKey": {"$type": "string"}},
    ),
    EXECUTION_LIST,
    IndexSpec(EXECUTIONS, [("taskId", 1), ("scheduledFor", 1)], unique=True),
    IndexSpec(EXECUTIONS, [("status", 1), ("enqueuedAt", 1)]),  # pending, never queued
    IndexSpec(EXECUTIONS, [("awaitingCallback", 1), ("callbackDeadline", 1)]),  # callbacks overdue
    *DEAD_LETTER_FILTERS,
    DEAD_LETTER_LIST,
    IndexSpec(DEAD_LETTERS, [("executionId", 1)], unique=True),
]


class TaskRepository:
    def __init__(self, db: Database) -> None:
        self.collection = db[TASKS]

    async def insert(self, doc: Document) -> Document:
        now = utcnow()
        doc = {"runCount": 0, "lastRunAt": None, **doc, "createdAt": now, "updatedAt": now}
        doc["_id"] = (await self.collection.insert_one(doc)).inserted_id
        return doc

    async def insert_many(self, docs: list[Document]) -> list[Document]:
        now = utcnow()
        docs = [{"runCount": 0, "lastRunAt": None, **d, "createdAt": now, "updatedAt": now} for d in docs]
        result = await self.collection.insert_many(docs, ordered=True)
        for doc, oid in zip(docs, result.inserted_ids, strict=True):
            doc["_id"] = oid
        return docs

    async def by_idempotency_key(self, owner_id: str, key: str) -> Document | None:
        return await self.collection.find_one({"ownerId": owner_id, "idempotencyKey": key})

    async def get(self, task_id: ObjectId, owner_id: str | None) -> Document | None:
        query: Document = {"_id": task_id, "status": {"$ne": TaskStatus.DELETED.value}}
        if owner_id is not None:
            query["ownerId"] = owner_id
        return await self.collection.find_one(query)

    def listing(self, query: Document) -> AsyncCursor[Document]:
        hint = hint_for(query, TASK_FILTERS) or TASK_LIST.name
        return self.collection.find(query).sort(NEWEST).hint(hint)

    async def page(self, query: Document, skip: int, limit: int) -> tuple[list[Document], int]:
        hint = hint_for(query, TASK_FILTERS) or TASK_LIST.name
        items = await self.listing(query).skip(skip).limit(limit).to_list()
        return items, await self.collection.count_documents(query, hint=hint)

    async def update(
        self, task_id: ObjectId, fields: dict[str, Any], *, expect: Document | None = None
    ) -> Document | None:
        return await update_by_id(
            self.collection, task_id, {"$set": {**fields, "updatedAt": utcnow()}}, expect=expect
        )

    async def due(self, now: datetime, limit: int = 500) -> list[Document]:
        query = {"status": TaskStatus.ACTIVE.value, "nextRunAt": {"$lte": now}}
        return await self.collection.find(query).sort("nextRunAt", 1).limit(limit).to_list()

    async def claim_run(
        self, task: Document, *, next_run_at: datetime | None, status: TaskStatus, fence: int
    ) -> bool:
        """Move ``nextRunAt`` past the run it held; one claimer wins each run.

        ``fence`` is the scheduler's fencing token: a claim with a token older than the
        last one this task saw (a leader that lost its lease) is refused.
        """
        result = await self.collection.update_one(
            {
                "_id": task["_id"],
                "status": TaskStatus.ACTIVE.value,
                "nextRunAt": task["nextRunAt"],
                "fence": {"$not": {"$gt": fence}},  # none yet, or not newer than ours
            },
            {
                "$set": {
                    "nextRunAt": next_run_at,
                    "status": status.value,
                    "lastRunAt": task["nextRunAt"],
                    "fence": fence,
                    "updatedAt": utcnow(),
                },
                "$inc": {"runCount": 1},
            },
        )
        return result.modified_count == 1


Notify = Callable[[Document], Awaitable[None]]


class ExecutionRepository:
    """``notify`` (optional) hears every status change: live updates are published from it."""

    def __init__(self, db: Database, notify: Notify | None = None) -> None:
        self.collection = db[EXECUTIONS]
        self.notify = notify

    async def _changed(self, doc: Document | None) -> Document | None:
        if doc is not None and self.notify is not None:
            await self.notify(doc)
        return doc

    @staticmethod
    def new(task: Document, scheduled_for: datetime, trigger: str) -> Document:
        return {
            "taskId": task["_id"],
            "ownerId": task["ownerId"],
            "kind": task["kind"],
            "payload": task["payload"],
            "queue": task["queue"],
            "maxRetries": task["maxRetries"],
            "timeoutMs": task["timeoutMs"],
            "trigger": trigger,
            "status": ExecutionStatus.PENDING.value,
            "scheduledFor": scheduled_for,
            "attempts": 0,
            "attemptHistory": [],
            "enqueuedAt": None,
            "startedAt": None,
            "completedAt": None,
            "durationMs": None,
            "result": None,
            "error": None,
            "cancelRequested": False,
            "webhookUrl": task.get("webhookUrl"),
            "createdAt": utcnow(),
            "updatedAt": utcnow(),
        }

    async def create(self, task: Document, scheduled_for: datetime, trigger: str) -> Document | None:
        """A new pending execution; ``None`` when that run exists already."""
        doc = self.new(task, scheduled_for, trigger)
        try:
            doc["_id"] = (await self.collection.insert_one(doc)).inserted_id
        except DuplicateKeyError:
            return None
        return doc

    async def insert_many(self, docs: list[Document]) -> list[Document]:
        result = await self.collection.insert_many(docs, ordered=True)
        for doc, oid in zip(docs, result.inserted_ids, strict=True):
            doc["_id"] = oid
        return docs

    async def get(self, execution_id: ObjectId, owner_id: str | None = None) -> Document | None:
        query: Document = {"_id": execution_id}
        if owner_id is not None:
            query["ownerId"] = owner_id
        return await self.collection.find_one(query)

    async def mark_enqueued(self, execution_ids: list[ObjectId], at: datetime) -> None:
        """``at`` is part of each message's id (``dispatch.message_id``): the exact stamp used."""
        now = at
        # In slices: the embedded server matches each document against the whole $in list,
        # so one update of 1,000 ids cost it 3.2 s, ten of 100 ids 1.0 s.
        for start in range(0, len(execution_ids), MARK_SLICE):
            ids = execution_ids[start : start + MARK_SLICE]
            await self.collection.update_many({"_id": {"$in": ids}}, {"$set": {"enqueuedAt": now}})

    async def never_enqueued(self, stored_before: datetime, limit: int = 500) -> list[Document]:
        """Pending executions no one queued (Redis was down when they were stored).

        ``stored_before`` leaves alone the ones a service is queueing right now: it stores an
        execution, then queues it, then marks it queued.
        """
        query = {
            "status": ExecutionStatus.PENDING.value,
            "enqueuedAt": None,
            "createdAt": {"$lt": stored_before},
        }
        return await self.collection.find(query).limit(limit).to_list()

    async def stale_attempts(self, now: datetime, grace: timedelta, limit: int = 500) -> list[Document]:
        """Attempts still ``processing`` past their timeout plus ``grace``: their worker died.

        Its message comes back when the dead worker's are requeued; if Redis lost it too, the
        scheduler queues the execution again so a worker takes the attempt over.
        """
        query = {
            "status": ExecutionStatus.PROCESSING.value,
            "awaitingCallback": {"$ne": True},
            "lastAttemptAt": {"$lt": now - grace},
        }
        projection = {"_id": 1, "queue": 1, "lastAttemptAt": 1, "timeoutMs": 1, "enqueuedAt": 1}
        candidates = await self.collection.find(query, projection).limit(limit).to_list()
        return [
            d for d in candidates if d["lastAttemptAt"] + timedelta(milliseconds=d["timeoutMs"]) + grace < now
        ]

    async def waiting_since(self, queued_before: datetime, limit: int = 500) -> list[Document]:
        """Executions queued before ``queued_before`` and still waiting to run, oldest first:
        those whose message may have been lost (the caller asks Redis)."""
        found: list[Document] = []
        for status in (ExecutionStatus.PENDING, ExecutionStatus.RETRYING):
            query = {"status": status.value, "enqueuedAt": {"$lt": queued_before}}  # null never matches $lt
            projection = {"_id": 1, "queue": 1, "enqueuedAt": 1, "status": 1}
            cursor = self.collection.find(query, projection).sort("enqueuedAt", 1).limit(limit)
            found += await cursor.to_list()
        return found

    async def start_attempt(self, execution_id: ObjectId) -> Document | None:
        """pending/retrying → processing with one more attempt; ``None`` if it must not run."""
        now = utcnow()
        return await self._changed(
            await update_by_id(
                self.collection,
                execution_id,
                # an update pipeline: startedAt is set once, whether stored null or absent
                # ($min would keep a null, which sorts before every date)
                [
                    {
                        "$set": {
                            "status": ExecutionStatus.PROCESSING.value,
                            "updatedAt": now,
                            "lastAttemptAt": now,
                            "startedAt": {"$ifNull": ["$startedAt", now]},
                            "attempts": {"$add": ["$attempts", 1]},
                        }
                    }
                ],
                expect={
                    "status": {"$in": [ExecutionStatus.PENDING.value, ExecutionStatus.RETRYING.value]},
                    "cancelRequested": False,
                },
            )
        )

    async def finish_attempt(
        self,
        execution_id: ObjectId,
        *,
        attempt: int,
        status: ExecutionStatus,
        started_at: datetime,
        result: Any = None,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> Document | None:
        now = utcnow()
        finished = status is not ExecutionStatus.RETRYING
        fields: Document = {
            "status": status.value,
            "updatedAt": now,
            "error": error,
            "retryAt": retry_at,
            "awaitingCallback": False,
            "callbackDeadline": None,
        }
        if finished:
            fields.update(
                completedAt=now, durationMs=int((now - started_at).total_seconds() * 1000), result=result
            )
        entry = {
            "attempt": attempt,
            "startedAt": started_at,
            "finishedAt": now,
            "status": status.value,
            "error": error,
        }
        return await self._changed(
            await update_by_id(
                self.collection,
                execution_id,
                {"$set": fields, "$push": {"attemptHistory": entry}},
                expect={"status": ExecutionStatus.PROCESSING.value, "attempts": attempt},
            )
        )

    async def await_callback(
        self, execution_id: ObjectId, *, attempt: int, deadline: datetime
    ) -> Document | None:
        """The attempt goes on outside the worker until a callback or ``deadline``."""
        return await self._changed(
            await update_by_id(
                self.collection,
                execution_id,
                {"$set": {"awaitingCallback": True, "callbackDeadline": deadline, "updatedAt": utcnow()}},
                expect={"status": ExecutionStatus.PROCESSING.value, "attempts": attempt},
            )
        )

    async def overdue_callbacks(self, now: datetime, limit: int = 500) -> list[Document]:
        query = {"awaitingCallback": True, "callbackDeadline": {"$lt": now}}
        return await self.collection.find(query).limit(limit).to_list()

    async def cancel(self, execution_id: ObjectId) -> Document | None:
        """Cancel queued or callback-waiting work at once; running work is asked to stop."""
        now = utcnow()
        done = {"status": ExecutionStatus.CANCELLED.value, "cancelRequested": True, "completedAt": now,
                "updatedAt": now, "awaitingCallback": False}  # fmt: skip
        queued = {"status": {"$in": [ExecutionStatus.PENDING.value, ExecutionStatus.RETRYING.value]}}
        waiting = {"status": ExecutionStatus.PROCESSING.value, "awaitingCallback": True}
        for idle in (queued, waiting):
            stopped = await update_by_id(self.collection, execution_id, {"$set": done}, expect=idle)
            if stopped is not None:
                return await self._changed(stopped)
        return await self._changed(
            await update_by_id(
                self.collection,
                execution_id,
                {"$set": {"cancelRequested": True, "updatedAt": now}},
                expect={"status": ExecutionStatus.PROCESSING.value},
            )
        )

    async def first_of(self, task_id: ObjectId) -> Document | None:
        return await self.collection.find_one({"taskId": task_id}, sort=NEWEST[::-1])

    async def in_flight(self, task_id: ObjectId) -> list[ObjectId]:
        statuses = [
            ExecutionStatus.PENDING.value,
            ExecutionStatus.RETRYING.value,
            ExecutionStatus.PROCESSING.value,
        ]
        cursor = self.collection.find({"taskId": task_id, "status": {"$in": statuses}}, {"_id": 1})
        return [doc["_id"] async for doc in cursor]

    async def record_webhook(self, execution_id: ObjectId, outcome: Document) -> None:
        await self.collection.update_one({"_id": execution_id}, {"$set": {"webhook": outcome}})

    async def cancel_requested(self, execution_id: ObjectId) -> bool:
        doc = await self.collection.find_one({"_id": execution_id}, {"cancelRequested": 1})
        return bool(doc and doc.get("cancelRequested"))

    async def reset_for_replay(self, execution_id: ObjectId) -> Document | None:
        """dead → pending with a fresh retry budget; attempt numbers go on counting."""
        dead = await self.collection.find_one({"_id": execution_id, "status": ExecutionStatus.DEAD.value})
        if dead is None:
            return None
        now = utcnow()
        fields = {
            "status": ExecutionStatus.PENDING.value,
            "attemptBase": dead["attempts"],
            "enqueuedAt": None,
            "error": None,
            "completedAt": None,
            "durationMs": None,
            "updatedAt": now,
            "replayedAt": now,
        }
        return await self._changed(
            await update_by_id(
                self.collection,
                execution_id,
                {"$set": fields, "$inc": {"replays": 1}},
                expect={"status": ExecutionStatus.DEAD.value, "attempts": dead["attempts"]},
            )
        )

    def listing(self, task_id: ObjectId) -> AsyncCursor[Document]:
        return self.collection.find({"taskId": task_id}).sort(NEWEST).hint(EXECUTION_LIST.name)

    async def page(self, task_id: ObjectId, skip: int, limit: int) -> tuple[list[Document], int]:
        items = await self.listing(task_id).skip(skip).limit(limit).to_list()
        return items, await self.collection.count_documents({"taskId": task_id}, hint=EXECUTION_LIST.name)


class DeadLetterRepository:
    def __init__(self, db: Database) -> None:
        self.collection = db[DEAD_LETTERS]

    async def record(self, execution: Document, error: str) -> None:
        doc = {
            "executionId": execution["_id"],
            "taskId": execution["taskId"],
            "ownerId": execution["ownerId"],
            "kind": execution["kind"],
            "queue": execution["queue"],
            "payload": execution["payload"],
            "attempts": execution["attempts"],
            "error": error,
            "createdAt": utcnow(),
        }
        await self.collection.update_one(
            {"executionId": execution["_id"]}, {"$setOnInsert": doc}, upsert=True
        )

    async def get(self, dead_id: ObjectId, owner_id: str | None) -> Document | None:
        query: Document = {"_id": dead_id}
        if owner_id is not None:
            query["ownerId"] = owner_id
        return await self.collection.find_one(query)

    async def page(self, owner_id: str | None, skip: int, limit: int) -> tuple[list[Document], int]:
        query: Document = {} if owner_id is None else {"ownerId": owner_id}
        hint = hint_for(query, DEAD_LETTER_FILTERS) or DEAD_LETTER_LIST.name
        cursor = self.collection.find(query).sort(NEWEST).hint(hint).skip(skip).limit(limit)
        return await cursor.to_list(), await self.collection.count_documents(query, hint=hint)

    async def delete(self, dead_id: ObjectId) -> bool:
        return (await self.collection.delete_one({"_id": dead_id})).deleted_count == 1
