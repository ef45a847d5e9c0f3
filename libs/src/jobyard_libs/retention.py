"""How long finished work is kept, and the bounded sweep that forgets the rest.

What is kept, by default (:class:`RetentionSettings`, one ``JOBYARD_RETENTION_*`` each):

- a completed execution: 24 hours after it finished;
- a dead or cancelled one: 7 days. That is the dead-letter window: a dead
  execution can be inspected and replayed until it goes, and its dead letter goes with it;
- a finished workflow: as its executions, 24 hours completed, 7 days failed or cancelled
  (a running one is never touched);
- a finished import log: 30 days (a running one is never touched);
- the raw copy of a fetched feed: 7 days (at most: its TTL index, older than this setting,
  removes it then anyway).

The scheduler's leader sweeps in its housekeeping (:meth:`Retention.sweep`): at most
``batch`` documents of each kind per round and a few rounds per sweep, each found through
an index, so a backlog (a long outage, a setting shortened) drains in bounded steps
instead of one delete that holds the database. Nothing else deletes them, so the rule is
the same on MongoDB and on both SecantusDB servers, whose TTL monitors differ.

Before executions go, their task keeps what they came to: ``expiredRuns`` (counts by
status) and ``lastExpiredRun`` (the newest one that went), so a task whose runs all
expired still shows its last outcome and how many runs it had. A task that will never run
again (``done``: a one-time or delayed task whose run was made; ``cancelled``;
``deleted``) goes with its last execution: otherwise a steady stream of one-time tasks
would leave one document each forever. Its idempotency key is then free again.

Usage
-----

::

    retention = Retention(db, RetentionPolicy.of(settings))
    swept = await retention.sweep(utcnow())   # → Swept(executions=..., import_logs=..., raw_feeds=...)
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import structlog
from prometheus_client import Counter as PromCounter
from pydantic import Field
from pymongo import UpdateOne

from jobyard_libs.imports import import_logs, raw_feeds
from jobyard_libs.mongo import Database, Document, IndexSpec, hint_of
from jobyard_libs.schemas import Reply
from jobyard_libs.settings import BaseServiceSettings
from jobyard_libs.tasks import repository as tasks
from jobyard_libs.tasks.models import ExecutionStatus, TaskStatus
from jobyard_libs.workflows import repository as workflows
from jobyard_libs.workflows.models import WorkflowStatus

log = structlog.get_logger(__name__)
DAY = 24 * 3600
ROUNDS = 5  # batches of each kind per sweep: with the default batch and sweep, 500 a second
EXECUTIONS_DONE = IndexSpec(tasks.EXECUTIONS, [("status", 1), ("completedAt", 1)])
LOGS_DONE = IndexSpec(import_logs.COLLECTION, [("finishedAt", 1)])
WORKFLOWS_DONE = IndexSpec(workflows.WORKFLOWS, [("status", 1), ("finishedAt", 1)])
INDEXES = [EXECUTIONS_DONE, LOGS_DONE, WORKFLOWS_DONE]
ENDED_TASKS = [TaskStatus.DONE.value, TaskStatus.CANCELLED.value, TaskStatus.DELETED.value]
UNSUCCESSFUL = [ExecutionStatus.DEAD.value, ExecutionStatus.CANCELLED.value]

DELETED = PromCounter(
    "jobyard_retention_deleted_total",
    "Documents the retention sweep deleted, by collection.",
    ["collection"],
)


class RetentionSettings(BaseServiceSettings):
    """How long finished work is kept (the scheduler sweeps; the api tells users)."""

    retention_completed_seconds: int = Field(
        DAY, ge=1, description="How long a completed execution is kept after it finished."
    )
    retention_failed_seconds: int = Field(
        7 * DAY,
        ge=1,
        description="How long a dead or cancelled execution (and its dead letter) is kept after it "
        "finished: the window in which a dead one can be replayed.",
    )
    retention_import_logs_seconds: int = Field(
        30 * DAY, ge=1, description="How long a finished import's log is kept."
    )
    retention_raw_feeds_seconds: int = Field(
        raw_feeds.RETENTION_SECONDS,
        ge=1,
        le=raw_feeds.RETENTION_SECONDS,
        description="How long the raw copy of a fetched feed is kept (7 days at most).",
    )
    retention_sweep_batch: int = Field(
        1000, ge=1, le=100_000, description="Most documents of each kind one retention round deletes."
    )


@dataclass(frozen=True)
class RetentionPolicy:
    completed: timedelta
    failed: timedelta
    import_logs: timedelta
    raw_feeds: timedelta

    @classmethod
    def of(cls, settings: RetentionSettings) -> RetentionPolicy:
        return cls(
            completed=timedelta(seconds=settings.retention_completed_seconds),
            failed=timedelta(seconds=settings.retention_failed_seconds),
            import_logs=timedelta(seconds=settings.retention_import_logs_seconds),
            raw_feeds=timedelta(seconds=settings.retention_raw_feeds_seconds),
        )

    def execution_kept(self, status: ExecutionStatus) -> timedelta | None:
        """How long an execution that finished with ``status`` is kept; ``None``: unfinished."""
        if status is ExecutionStatus.COMPLETED:
            return self.completed
        if status.value in UNSUCCESSFUL:
            return self.failed
        return None


class RetentionOut(Reply):
    """How long each kind of finished work is kept (``GET /api/v1/retention``)."""

    completed_seconds: int = Field(description="a completed execution (or workflow), after it finished")
    failed_seconds: int = Field(
        description="a dead or cancelled execution and its dead letter (a failed or cancelled workflow), "
        "after it finished: the window in which a dead one can be replayed"
    )
    import_logs_seconds: int = Field(description="a finished import's log")
    raw_feeds_seconds: int = Field(description="the raw copy of a fetched feed")

    @classmethod
    def of(cls, policy: RetentionPolicy) -> RetentionOut:
        return cls(
            completed_seconds=int(policy.completed.total_seconds()),
            failed_seconds=int(policy.failed.total_seconds()),
            import_logs_seconds=int(policy.import_logs.total_seconds()),
            raw_feeds_seconds=int(policy.raw_feeds.total_seconds()),
        )


@dataclass
class Swept:
    executions: int = 0
    tasks: int = 0
    import_logs: int = 0
    raw_feeds: int = 0
    workflows: int = 0


class Retention:
    def __init__(self, db: Database, policy: RetentionPolicy, *, batch: int = 1000) -> None:
        self.db = db
        self.policy = policy
        self.batch = batch

    async def sweep(self, now: datetime) -> Swept:
        swept = Swept()
        completed = [ExecutionStatus.COMPLETED.value]
        for statuses, kept in ((completed, self.policy.completed), (UNSUCCESSFUL, self.policy.failed)):
            query = {"status": {"$in": statuses}, "completedAt": {"$lt": now - kept}}
            swept.executions += await self._rounds(functools.partial(self._executions, swept=swept), query)
        logs = {"finishedAt": {"$lt": now - self.policy.import_logs}}
        swept.import_logs = await self._rounds(self._import_logs, logs)
        copies = {"fetchedAt": {"$lt": now - self.policy.raw_feeds}}
        swept.raw_feeds = await self._rounds(self._raw_feeds, copies)
        ended = [WorkflowStatus.FAILED.value, WorkflowStatus.CANCELLED.value]
        for statuses, kept in (
            ([WorkflowStatus.COMPLETED.value], self.policy.completed),
            (ended, self.policy.failed),
        ):
            query = {"status": {"$in": statuses}, "finishedAt": {"$lt": now - kept}}
            swept.workflows += await self._rounds(self._workflows, query)
        if any(asdict(swept).values()):
            log.info("retention_swept", **asdict(swept))
        return swept

    async def _rounds(self, delete: Callable[[Document], Awaitable[int]], query: Document) -> int:
        total = 0
        for _ in range(ROUNDS):
            deleted = await delete(query)
            total += deleted
            if deleted < self.batch:
                break
        return total

    async def _import_logs(self, query: Document) -> int:
        found = self.db[import_logs.COLLECTION].find(query, {"_id": 1}).hint(hint_of(query, LOGS_DONE))
        return await self._delete(import_logs.COLLECTION, query, await found.limit(self.batch).to_list())

    async def _workflows(self, query: Document) -> int:
        found = self.db[workflows.WORKFLOWS].find(query, {"_id": 1}).hint(hint_of(query, WORKFLOWS_DONE))
        return await self._delete(workflows.WORKFLOWS, query, await found.limit(self.batch).to_list())

    async def _raw_feeds(self, query: Document) -> int:
        found = self.db[raw_feeds.COLLECTION].find(query, {"_id": 1}).limit(self.batch)
        return await self._delete(raw_feeds.COLLECTION, query, await found.to_list())

    async def _delete(self, collection: str, query: Document, found: list[Document]) -> int:
        ids = [doc["_id"] for doc in found]
        if not ids:
            return 0
        # the query again: a document that changed since it was found (replayed) stays
        result = await self.db[collection].delete_many({"_id": {"$in": ids}, **query})
        DELETED.labels(collection).inc(result.deleted_count)
        return result.deleted_count

    async def _executions(self, query: Document, *, swept: Swept) -> int:
        """One batch of executions, after their tasks noted what they came to; then the tasks
        that ended with them."""
        projection = {"_id": 1, "taskId": 1, "status": 1, "completedAt": 1}
        found = (
            self.db[tasks.EXECUTIONS]
            .find(query, projection)
            .hint(hint_of(query, EXECUTIONS_DONE))
            .limit(self.batch)
        )
        runs = await found.to_list()
        if not runs:
            return 0
        await self._summarize(runs)
        await self.db[tasks.DEAD_LETTERS].delete_many({"executionId": {"$in": [run["_id"] for run in runs]}})
        deleted = await self._delete(tasks.EXECUTIONS, query, runs)
        swept.tasks += await self._forget_ended_tasks({run["taskId"] for run in runs})
        return deleted

    async def _forget_ended_tasks(self, task_ids: set[object]) -> int:
        """Tasks that will never run again and have no execution left."""
        still_run = set(
            await self.db[tasks.EXECUTIONS].distinct("taskId", {"taskId": {"$in": list(task_ids)}})
        )
        ended = {"_id": {"$in": [t for t in task_ids if t not in still_run]}, "status": {"$in": ENDED_TASKS}}
        result = await self.db[tasks.TASKS].delete_many(ended)
        DELETED.labels(tasks.TASKS).inc(result.deleted_count)
        return result.deleted_count

    async def _summarize(self, runs: list[Document]) -> None:
        counts: dict[object, Counter[str]] = {}
        newest: dict[object, Document] = {}
        for run in runs:
            counts.setdefault(run["taskId"], Counter())[run["status"]] += 1
            if run["taskId"] not in newest or run["completedAt"] > newest[run["taskId"]]["completedAt"]:
                newest[run["taskId"]] = run
        updates: list[UpdateOne] = []
        for task_id, by_status in counts.items():
            run = newest[task_id]
            last = {"executionId": run["_id"], "status": run["status"], "at": run["completedAt"]}
            updates.append(
                UpdateOne({"_id": task_id}, {"$inc": {f"expiredRuns.{s}": n for s, n in by_status.items()}})
            )
            updates.append(
                UpdateOne(
                    {"_id": task_id, "lastExpiredRun.at": {"$not": {"$gte": run["completedAt"]}}},
                    {"$set": {"lastExpiredRun": last}},
                )
            )
        await self.db[tasks.TASKS].bulk_write(updates, ordered=False)
