"""Stored documents for tests, built from the same models the repositories store.

A test that seeds the database goes through these (and the repositories), never raw
dicts: when a stored shape changes, the models change and every seed follows, or the
test fails to build it.

Examples
--------
>>> task = a_task(cron="*/5 * * * *", next_run_at=START)
>>> await TaskRepository(db).insert(task)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from jobyard_libs.imports.documents import FeedSource, ImportLog, Job
from jobyard_libs.imports.models import ImportStatus, ImportTrigger
from jobyard_libs.mongo import Database, utcnow
from jobyard_libs.tasks.documents import Execution, Task
from jobyard_libs.tasks.models import MisfirePolicy, TaskStatus, TaskType


def a_task(
    *,
    cron: str | None = "* * * * *",
    next_run_at: datetime | None = None,
    owner_id: str = "u1",
    kind: str = "noop",
    **fields: Any,
) -> Task:
    """A recurring ``noop`` task (every minute unless told), active, due at ``next_run_at``."""
    defaults: dict[str, Any] = {
        "name": "every minute",
        "type": TaskType.RECURRING if cron else TaskType.ONE_TIME,
        "queue": "tasks.default",
        "status": TaskStatus.ACTIVE,
        "misfire_policy": MisfirePolicy.FIRE_ONCE,
        "max_retries": 0,
        "timeout_ms": 1000,
    }
    return Task(owner_id=owner_id, kind=kind, cron=cron, next_run_at=next_run_at, **{**defaults, **fields})


def an_execution(task: Task, *, scheduled_for: datetime | None = None, **fields: Any) -> Execution:
    """A run of ``task`` as the scheduler or the api would store it, with ``fields`` changed."""
    execution = Execution.of(task, scheduled_for or utcnow(), "test")
    return execution.model_copy(update=fields)


def a_feed_source(url: str, **fields: Any) -> FeedSource:
    return FeedSource(url=url, name=fields.pop("name", url), **fields)


def an_import_log(feed_url: str, **fields: Any) -> ImportLog:
    """A finished (completed) run of ``feed_url`` unless ``fields`` say otherwise."""
    defaults: dict[str, Any] = {"trigger": ImportTrigger.SCHEDULE, "status": ImportStatus.COMPLETED}
    return ImportLog(feed_url=feed_url, file_name=feed_url, **{**defaults, **fields})


def a_job(feed_url: str, external_id: str, **fields: Any) -> Job:
    return Job(feed_url=feed_url, external_id=external_id, title=fields.pop("title", "Engineer"), **fields)


COLLECTIONS = {
    Task: "tasks",
    Execution: "executions",
    FeedSource: "feed_sources",
    ImportLog: "import_logs",
    Job: "jobs",
}


async def store(db: Database, *documents: Task | Execution | FeedSource | ImportLog | Job) -> None:
    """Insert documents as their repositories store them (for seeds no repository writes whole)."""
    for document in documents:
        await db[COLLECTIONS[type(document)]].insert_one(document.to_mongo())


async def pending_executions(db: Database, count: int) -> list[Execution]:
    """``count`` pending executions of one new task (a second apart), stored as the api stores them."""
    task, now = a_task(cron=None), utcnow()
    executions = [an_execution(task, scheduled_for=now + timedelta(seconds=i)) for i in range(count)]
    await db.executions.insert_many([execution.to_mongo() for execution in executions], ordered=True)
    return executions
