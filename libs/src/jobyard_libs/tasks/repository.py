"""The ``tasks``, ``executions`` and ``dead_letters`` collections: reads and inserts.

Firing a scheduled run is a conditional update on the task's ``nextRunAt``, and an
execution is unique on ``(taskId, scheduledFor)``: two schedulers that both believe they
lead still create one execution per run. An execution's status changes are not here:
they go through :mod:`jobyard_libs.tasks.lifecycle`, the one place that also tells the
world (live events, stats, webhooks).

Owner scoping is in one place (``_scoped``): ``owner_id=None`` is an
admin's view of everyone's.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from bson import ObjectId
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from jobyard_libs.listing import TOTAL_CAP, Slice, Window, paginate
from jobyard_libs.mongo import (
    Database,
    Document,
    IndexSpec,
    hint_for,
    hint_of,
    hint_option,
    update_by_id,
    utcnow,
)
from jobyard_libs.tasks.documents import DeadLetter, Execution, Task, TaskChanges, WebhookDelivery, name_key
from jobyard_libs.tasks.models import ExecutionStatus, TaskStatus, TaskType

WAITING = [ExecutionStatus.PENDING.value, ExecutionStatus.RETRYING.value]
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
EXECUTIONS_OF_OWNER = IndexSpec(EXECUTIONS, [("ownerId", 1), ("status", 1), *NEWEST])
OWNER_EXECUTIONS = IndexSpec(EXECUTIONS, [("ownerId", 1), *NEWEST])
STATUS_EXECUTIONS = IndexSpec(EXECUTIONS, [("status", 1), *NEWEST])
ALL_EXECUTIONS = IndexSpec(EXECUTIONS, NEWEST)
SCHEDULED = [TaskType.DELAYED.value, TaskType.RECURRING.value]
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
    EXECUTIONS_OF_OWNER,
    OWNER_EXECUTIONS,
    STATUS_EXECUTIONS,
    ALL_EXECUTIONS,
    IndexSpec(EXECUTIONS, [("taskId", 1), ("scheduledFor", 1)], unique=True),
    IndexSpec(EXECUTIONS, [("status", 1), ("enqueuedAt", 1)]),  # pending, never queued
    IndexSpec(EXECUTIONS, [("awaitingCallback", 1), ("callbackDeadline", 1)]),  # callbacks overdue
    *DEAD_LETTER_FILTERS,
    DEAD_LETTER_LIST,
    IndexSpec(DEAD_LETTERS, [("executionId", 1)], unique=True),
]


HELD = {  # an attempt running in a worker now
    "status": ExecutionStatus.PROCESSING.value,
    "awaitingCallback": {"$ne": True},
    "holder": {"$ne": None},
}


@dataclass(frozen=True)
class ExecutionFilter:
    """Which executions a list or a bulk action covers (within the caller's scope)."""

    statuses: tuple[ExecutionStatus, ...] | None = None  # any of these; None: any status
    kind: str | None = None
    task_ids: tuple[ObjectId, ...] | None = None  # those of a search by task name
    owner_id: str | None = None  # an admin's filter by owner
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before

    def query(self, scope: str | None) -> Document:
        query: Document = {}
        if self.owner_id is not None:
            query["ownerId"] = self.owner_id
        query = _scoped(query, scope)  # a user's own scope wins over any owner filter
        if self.task_ids is not None:
            query["taskId"] = {"$in": list(self.task_ids)}
        if self.statuses is not None:
            wanted = [s.value for s in self.statuses]
            query["status"] = wanted[0] if len(wanted) == 1 else {"$in": wanted}
        if self.kind:
            query["kind"] = self.kind
        created: Document = {}
        if self.since is not None:
            created["$gte"] = self.since
        if self.until is not None:
            created["$lt"] = self.until
        if created:
            query["createdAt"] = created
        return query

    def only(self, allowed: Iterable[ExecutionStatus]) -> ExecutionFilter:
        """This filter, narrowed to ``allowed`` statuses (a bulk action applies to those alone)."""
        kept = tuple(s for s in allowed if self.statuses is None or s in self.statuses)
        return replace(self, statuses=kept)


def execution_index(query: Document) -> IndexSpec:
    """The index a list of executions with this filter walks, newest first."""
    if "taskId" in query:
        return EXECUTION_LIST
    if "ownerId" in query:
        return EXECUTIONS_OF_OWNER if isinstance(query.get("status"), str) else OWNER_EXECUTIONS
    if "status" in query:
        return STATUS_EXECUTIONS
    return ALL_EXECUTIONS


# The explicit unscoped read, for code no user request reaches (the worker, signed callbacks,
# housekeeping): every read of a user's documents names its scope, this or an owner's id.
ANY_OWNER: Final[None] = None
DUPLICATE_KEY = 11000


def _named(text: str) -> Document:
    """Tasks whose name contains ``text``, whatever its case (see :func:`name_key`)."""
    return {"nameKey": {"$regex": re.escape(name_key(text))}}


def _scoped(query: Document, owner_id: str | None) -> Document:
    """The one owner scope: ``owner_id`` sees its own documents, ``None`` (an admin) everyone's."""
    return query if owner_id is None else {**query, "ownerId": owner_id}


class TaskRepository:
    def __init__(self, db: Database) -> None:
        self.collection = db[TASKS]

    async def insert(self, task: Task) -> bool:
        """``False`` when another task of its owner took its idempotency key meanwhile."""
        try:
            await self.collection.insert_one(task.to_mongo())
        except DuplicateKeyError:
            return False
        return True

    async def insert_many(self, tasks: list[Task]) -> list[Task]:
        await self.collection.insert_many([t.to_mongo() for t in tasks], ordered=True)
        return tasks

    async def by_idempotency_key(self, owner_id: str, key: str) -> Task | None:
        return Task.from_mongo(await self.collection.find_one({"ownerId": owner_id, "idempotencyKey": key}))

    async def get(self, task_id: ObjectId, owner_id: str | None) -> Task | None:
        query = _scoped({"_id": task_id, "status": {"$ne": TaskStatus.DELETED.value}}, owner_id)
        return Task.from_mongo(await self.collection.find_one(query))

    async def page(
        self,
        owner_id: str | None,
        window: Window,
        *,
        status: TaskStatus | None,
        type_: TaskType | None,
        kind: str | None,
        name: str | None = None,
        owner: str | None = None,
    ) -> Slice[Task]:
        """``name``: part of the name, any case; ``owner``: an admin's filter (a user's own
        scope wins over it)."""
        query = _scoped({"status": status.value if status else {"$ne": TaskStatus.DELETED.value}}, owner)
        query = _scoped(query, owner_id)
        query.update({k: v for k, v in (("type", type_ and type_.value), ("kind", kind)) if v})
        if name:
            query.update(_named(name))
        return await paginate(
            self.collection, query, NEWEST, hint_for(query, TASK_FILTERS, TASK_LIST), window, Task
        )

    async def key_names(self, batch: int = 500) -> int:
        """Migration from versions that stored no ``nameKey``: each task gets its own, a bulk
        write per ``batch`` (walking ``_id`` onwards, never rescanning). How many."""
        done, after = 0, None
        while True:
            query: Document = {"nameKey": {"$exists": False}}
            if after is not None:
                query["_id"] = {"$gt": after}
            found = await self.collection.find(query, {"name": 1}).sort("_id", 1).limit(batch).to_list()
            if not found:
                return done
            keyed = [UpdateOne({"_id": t["_id"]}, {"$set": {"nameKey": name_key(t["name"])}}) for t in found]
            await self.collection.bulk_write(keyed, ordered=False)
            done, after = done + len(keyed), found[-1]["_id"]

    async def counts_by_status(self, owner_id: str | None, owner: str | None = None) -> dict[TaskStatus, int]:
        """How many tasks are in each state (deleted ones aside), each counted up to
        ``TOTAL_CAP + 1`` through the owner + status (or status) index: one bounded walk a state."""
        counts: dict[TaskStatus, int] = {}
        for state in TaskStatus:
            if state is TaskStatus.DELETED:
                continue
            query = _scoped(_scoped({"status": state.value}, owner), owner_id)
            index = hint_for(query, TASK_FILTERS, TASK_LIST)
            counts[state] = await self.collection.count_documents(
                query, limit=TOTAL_CAP + 1, **hint_option(query, index)
            )
        return counts

    async def ids_named(self, owner_id: str | None, text: str, limit: int = 1000) -> tuple[ObjectId, ...]:
        """The tasks (not deleted) whose name contains ``text``, whatever its case, newest first."""
        query = _scoped({"status": {"$ne": TaskStatus.DELETED.value}, **_named(text)}, owner_id)
        hint = hint_of(query, hint_for(query, TASK_FILTERS, TASK_LIST))
        cursor = self.collection.find(query, {"_id": 1}).sort(NEWEST).hint(hint).limit(limit)
        return tuple(doc["_id"] for doc in await cursor.to_list())

    async def names(self, task_ids: Iterable[ObjectId]) -> dict[ObjectId, str]:
        """Each task's name (deleted ones too: their executions still show it)."""
        cursor = self.collection.find({"_id": {"$in": list(set(task_ids))}}, {"name": 1})
        return {doc["_id"]: doc["name"] async for doc in cursor}

    async def update(
        self, task_id: ObjectId, changes: TaskChanges, *, expect_status: TaskStatus | None = None
    ) -> Task | None:
        """Make ``changes``, if the task is still in ``expect_status``; the task as it is now."""
        update = {"$set": {**changes.to_set(), "updatedAt": utcnow()}}
        expect = None if expect_status is None else {"status": expect_status.value}
        return Task.from_mongo(await update_by_id(self.collection, task_id, update, expect=expect))

    async def pause_owned(self, owner_id: str, *, reason: str) -> int:
        """Pause every active delayed or recurring task of ``owner_id``, saying why; how many."""
        result = await self.collection.update_many(
            {"ownerId": owner_id, "status": TaskStatus.ACTIVE.value, "type": {"$in": SCHEDULED}},
            {"$set": {"status": TaskStatus.PAUSED.value, "pausedReason": reason, "updatedAt": utcnow()}},
        )
        return result.modified_count

    async def paused_for(self, owner_id: str, reason: str) -> list[Task]:
        query = {"ownerId": owner_id, "status": TaskStatus.PAUSED.value, "pausedReason": reason}
        return Task.many(await self.collection.find(query).to_list())

    async def resume_paused(self, task_id: ObjectId, reason: str, *, next_run_at: datetime | None) -> bool:
        """Resume a task the platform paused for ``reason`` (not one its owner paused)."""
        result = await self.collection.update_one(
            {"_id": task_id, "status": TaskStatus.PAUSED.value, "pausedReason": reason},
            {
                "$set": {
                    "status": TaskStatus.ACTIVE.value,
                    "pausedReason": None,
                    "nextRunAt": next_run_at,
                    "updatedAt": utcnow(),
                }
            },
        )
        return result.modified_count == 1

    async def active_scheduled_of(self, owner_id: str) -> list[Task]:
        query = {"ownerId": owner_id, "status": TaskStatus.ACTIVE.value, "type": {"$in": SCHEDULED}}
        return Task.many(await self.collection.find(query).to_list())

    async def due(self, now: datetime, limit: int = 500) -> list[Task]:
        query = {"status": TaskStatus.ACTIVE.value, "nextRunAt": {"$lte": now}}
        return Task.many(await self.collection.find(query).sort("nextRunAt", 1).limit(limit).to_list())

    async def claim_run(
        self, task: Task, *, next_run_at: datetime | None, status: TaskStatus, fence: int
    ) -> bool:
        """Move ``nextRunAt`` past the run it held; one claimer wins each run.

        ``fence`` is the scheduler's fencing token: a claim with a token older than the
        last one this task saw (a leader that lost its lease) is refused.
        """
        result = await self.collection.update_one(
            {
                "_id": task.id,
                "status": TaskStatus.ACTIVE.value,
                "nextRunAt": task.next_run_at,
                "fence": {"$not": {"$gt": fence}},  # none yet, or not newer than ours
            },
            {
                "$set": {
                    "nextRunAt": next_run_at,
                    "status": status.value,
                    "lastRunAt": task.next_run_at,
                    "fence": fence,
                    "updatedAt": utcnow(),
                },
                "$inc": {"runCount": 1},
            },
        )
        return result.modified_count == 1


class ExecutionRepository:
    """Reads, inserts and bookkeeping of executions; status changes are the lifecycle's."""

    def __init__(self, db: Database) -> None:
        self.collection = db[EXECUTIONS]

    async def create(self, execution: Execution) -> Execution | None:
        """Store a new execution; ``None`` when that run exists already (a second scheduler)."""
        try:
            await self.collection.insert_one(execution.to_mongo())
        except DuplicateKeyError:
            return None
        return execution

    async def create_many(self, executions: list[Execution]) -> list[Execution]:
        """Store new executions; those stored now (not those that existed already)."""
        if not executions:
            return []
        try:
            await self.collection.insert_many([e.to_mongo() for e in executions], ordered=False)
        except BulkWriteError as exc:
            failed = {error["index"] for error in exc.details.get("writeErrors", [])}
            if any(error.get("code") != DUPLICATE_KEY for error in exc.details.get("writeErrors", [])):
                raise
            return [e for i, e in enumerate(executions) if i not in failed]
        return executions

    async def insert_many(self, executions: list[Execution]) -> list[Execution]:
        await self.collection.insert_many([e.to_mongo() for e in executions], ordered=True)
        return executions

    async def get(self, execution_id: ObjectId, owner_id: str | None) -> Execution | None:
        return Execution.from_mongo(await self.collection.find_one(_scoped({"_id": execution_id}, owner_id)))

    async def of_ids(self, execution_ids: list[ObjectId]) -> list[Execution]:
        """The executions of these ids that exist (ids a workflow chose for its steps)."""
        return Execution.many(await self.collection.find({"_id": {"$in": execution_ids}}).to_list())

    async def mark_enqueued(self, execution_ids: list[ObjectId], at: datetime | None) -> None:
        """``at`` is part of each message's id (``dispatch.message_id``): the exact stamp used;
        ``None``: not queued after all (the scheduler will)."""
        # In slices: the embedded server matches each document against the whole $in list,
        # so one update of 1,000 ids cost it 3.2 s, ten of 100 ids 1.0 s.
        for start in range(0, len(execution_ids), MARK_SLICE):
            ids = execution_ids[start : start + MARK_SLICE]
            await self.collection.update_many({"_id": {"$in": ids}}, {"$set": {"enqueuedAt": at}})

    async def never_enqueued(self, stored_before: datetime, limit: int = 500) -> list[Execution]:
        """Waiting executions no one queued (Redis was down when they were stored or retried).

        ``stored_before`` leaves alone the ones a service is queueing right now: it stores an
        execution, then queues it (an execution Redis refused is unmarked after).
        """
        query = {"status": {"$in": WAITING}, "enqueuedAt": None, "createdAt": {"$lt": stored_before}}
        return Execution.many(await self.collection.find(query).limit(limit).to_list())

    async def stale_attempts(self, now: datetime, grace: timedelta, limit: int = 500) -> list[Execution]:
        """Attempts still ``processing`` past their timeout plus ``grace``: their worker died.

        Its message comes back when the dead worker's are requeued; if Redis lost it too, the
        scheduler queues the execution again so a worker takes the attempt over.
        """
        query = {
            "status": ExecutionStatus.PROCESSING.value,
            "awaitingCallback": {"$ne": True},
            "lastAttemptAt": {"$lt": now - grace},
        }
        candidates = Execution.many(await self.collection.find(query).limit(limit).to_list())
        return [
            e
            for e in candidates
            if e.last_attempt_at is not None
            and e.last_attempt_at + timedelta(milliseconds=e.timeout_ms) + grace < now
        ]

    async def running_holders(self) -> list[str]:
        """The worker processes holding attempts now (``processing``, not waiting for a
        callback): one ``distinct``, a few ids, however many attempts run. The caller asks
        which of them died (:mod:`jobyard_libs.queue.liveness`)."""
        return [str(holder) for holder in await self.collection.distinct("holder", HELD)]

    async def held_by(self, holders: Iterable[str], limit: int = 500) -> list[Execution]:
        """The attempts ``holders`` hold now."""
        query = {**HELD, "holder": {"$in": sorted(holders)}}
        return Execution.many(await self.collection.find(query).limit(limit).to_list())

    async def waiting_since(self, queued_before: datetime, limit: int = 500) -> list[Execution]:
        """Executions queued before ``queued_before`` and still waiting to run, oldest first:
        those whose message may have been lost (the caller asks Redis)."""
        found: list[Execution] = []
        for status in (ExecutionStatus.PENDING, ExecutionStatus.RETRYING):
            query = {"status": status.value, "enqueuedAt": {"$lt": queued_before}}  # null never matches $lt
            found += Execution.many(
                await self.collection.find(query).sort("enqueuedAt", 1).limit(limit).to_list()
            )
        return found

    async def overdue_callbacks(self, now: datetime, limit: int = 500) -> list[Execution]:
        query = {"awaitingCallback": True, "callbackDeadline": {"$lt": now}}
        return Execution.many(await self.collection.find(query).limit(limit).to_list())

    async def latest_of_tasks(self, task_ids: list[ObjectId]) -> dict[ObjectId, Execution]:
        """Each task's newest execution: one look-up of (taskId, newest) per task, at once.
        Unhinted (the rule of :func:`~jobyard_libs.mongo.hint_of`): one task id pins the
        index's leading field, so every planner picks it."""
        found = await asyncio.gather(
            *(self.collection.find_one({"taskId": task_id}, sort=NEWEST) for task_id in task_ids)
        )
        latest = Execution.many([raw for raw in found if raw is not None])
        return {execution.task_id: execution for execution in latest}

    async def first_of(self, task_id: ObjectId) -> Execution | None:
        first = [("createdAt", 1), ("_id", 1)]
        return Execution.from_mongo(await self.collection.find_one({"taskId": task_id}, sort=first))

    async def in_flight(self, task_id: ObjectId) -> list[ObjectId]:
        statuses = [
            ExecutionStatus.PENDING.value,
            ExecutionStatus.RETRYING.value,
            ExecutionStatus.PROCESSING.value,
        ]
        cursor = self.collection.find({"taskId": task_id, "status": {"$in": statuses}}, {"_id": 1})
        return [doc["_id"] async for doc in cursor]

    async def unfinished_of_owner(self, owner_id: str) -> list[ObjectId]:
        """Executions of ``owner_id`` that are queued, retrying or running."""
        statuses = [*WAITING, ExecutionStatus.PROCESSING.value]
        cursor = self.collection.find({"ownerId": owner_id, "status": {"$in": statuses}}, {"_id": 1})
        return [doc["_id"] async for doc in cursor]

    async def record_webhook(self, execution_id: ObjectId, delivery: WebhookDelivery) -> None:
        await self.collection.update_one({"_id": execution_id}, {"$set": {"webhook": delivery.model_dump()}})

    async def cancel_requested(self, execution_id: ObjectId) -> bool:
        doc = await self.collection.find_one({"_id": execution_id}, {"cancelRequested": 1})
        return bool(doc and doc.get("cancelRequested"))

    async def page(self, task_id: ObjectId, window: Window) -> Slice[Execution]:
        return await paginate(self.collection, {"taskId": task_id}, NEWEST, EXECUTION_LIST, window, Execution)

    async def matching(self, where: ExecutionFilter, scope: str | None, window: Window) -> Slice[Execution]:
        """A page of the executions ``where`` names that ``scope`` may see, newest first."""
        query = where.query(scope)
        index = execution_index(query)
        return await paginate(self.collection, query, NEWEST, index, window, Execution, recent="createdAt")

    async def all_matching(self, where: ExecutionFilter, scope: str | None, limit: int) -> list[Execution]:
        """Up to ``limit`` of them, newest first (a bulk action's)."""
        query = where.query(scope)
        cursor = (
            self.collection.find(query).sort(NEWEST).hint(hint_of(query, execution_index(query))).limit(limit)
        )
        return Execution.many(await cursor.to_list())


class DeadLetterRepository:
    def __init__(self, db: Database) -> None:
        self.collection = db[DEAD_LETTERS]

    async def record(self, execution: Execution, error: str) -> None:
        letter = DeadLetter(
            execution_id=execution.id,
            task_id=execution.task_id,
            owner_id=execution.owner_id,
            kind=execution.kind,
            queue=execution.queue,
            payload=execution.payload,
            attempts=execution.attempts,
            error=error,
        )
        stored_letter = letter.to_mongo()
        del stored_letter["_id"]  # an upsert keeps the first letter's id
        await self.collection.update_one(
            {"executionId": execution.id}, {"$setOnInsert": stored_letter}, upsert=True
        )

    async def get(self, dead_id: ObjectId, owner_id: str | None) -> DeadLetter | None:
        return DeadLetter.from_mongo(await self.collection.find_one(_scoped({"_id": dead_id}, owner_id)))

    async def page(self, owner_id: str | None, window: Window) -> Slice[DeadLetter]:
        query = _scoped({}, owner_id)
        index = hint_for(query, DEAD_LETTER_FILTERS, DEAD_LETTER_LIST)
        return await paginate(self.collection, query, NEWEST, index, window, DeadLetter)

    async def delete(self, dead_id: ObjectId) -> bool:
        return (await self.collection.delete_one({"_id": dead_id})).deleted_count == 1

    async def delete_of(self, execution_ids: list[ObjectId]) -> int:
        """The dead letters of these executions (replayed, or discarded together)."""
        return (await self.collection.delete_many({"executionId": {"$in": execution_ids}})).deleted_count
