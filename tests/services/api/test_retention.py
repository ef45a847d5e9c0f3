"""Finished work expires by settings, in bounded sweeps of the leader's housekeeping; a task
keeps what its expired runs came to; the api says how long each kind is kept."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from jobyard_libs.imports.models import ImportStatus
from jobyard_libs.mongo import utcnow
from jobyard_libs.tasks.documents import DeadLetter, Execution, Task
from jobyard_libs.tasks.models import ExecutionStatus, TaskStatus, TaskType
from jobyard_libs.workflows.documents import Workflow
from jobyard_libs.workflows.models import StepSpec, WorkflowStatus

from tests.conftest import Isolation
from tests.support.auth_service import AuthService
from tests.support.factories import a_task, an_execution, an_import_log, store
from tests.support.scheduling import leader_firing

HOUR = 3600
KEPT: dict[str, Any] = {
    "retention_completed_seconds": HOUR,
    "retention_failed_seconds": 2 * HOUR,
    "retention_import_logs_seconds": 3 * HOUR,
    "retention_raw_feeds_seconds": HOUR,
    "retention_sweep_batch": 2,
}


async def test_the_leader_deletes_finished_work_past_its_retention_and_the_task_remembers(
    isolation: Isolation, db: Any, api: httpx.AsyncClient, auth: AuthService
) -> None:
    me = auth.user_headers("keeper@example.com")
    owner = auth.subject(me)
    now = utcnow()
    task = a_task(cron=None, type=TaskType.ONE_TIME, status=TaskStatus.DONE, owner_id=owner)
    ago = [now - timedelta(minutes=m) for m in (30, 90, 150)]  # finished 30 min, 1.5 h, 2.5 h ago

    def run(status: ExecutionStatus, finished: Any, minute: int, of: Task = task) -> Execution:
        return an_execution(
            of, scheduled_for=now - timedelta(minutes=minute), status=status, completed_at=finished
        )

    kept_young = run(ExecutionStatus.COMPLETED, ago[0], 1)  # younger than an hour: kept
    old_done = run(ExecutionStatus.COMPLETED, ago[1], 2)  # older than an hour: goes
    failed_young = run(ExecutionStatus.CANCELLED, ago[1], 3)  # unsuccessful ones are kept 2 hours
    dead_old = run(ExecutionStatus.DEAD, ago[2], 4)  # goes, with its dead letter
    running = run(ExecutionStatus.PROCESSING, None, 5)  # never, whatever its age
    await store(db, task, kept_young, old_done, failed_young, dead_old, running)
    letter = DeadLetter(
        execution_id=dead_old.id,
        task_id=task.id,
        owner_id=owner,
        kind="noop",
        queue="tasks.default",
        attempts=1,
        error="boom",
    )
    await db.dead_letters.insert_one(letter.to_mongo())
    # a recurring task with seven old completed runs: deleted over several rounds of 2
    bulk = a_task(cron="* * * * *", owner_id=owner)
    await store(db, bulk, *(run(ExecutionStatus.COMPLETED, ago[1], 10 + i, bulk) for i in range(7)))

    # a one-time task whose one run expired will never run again: it goes with its run
    ended = a_task(cron=None, type=TaskType.ONE_TIME, status=TaskStatus.DONE, owner_id=owner)
    await store(db, ended, run(ExecutionStatus.COMPLETED, ago[1], 30, ended))

    finished_log = an_import_log("https://feeds.example/a", finished_at=now - timedelta(hours=4))
    recent_log = an_import_log("https://feeds.example/b", finished_at=now - timedelta(hours=1))
    running_log = an_import_log(
        "https://feeds.example/c", status=ImportStatus.PROCESSING, timestamp=now - timedelta(days=40)
    )
    await store(db, finished_log, recent_log, running_log)
    await db.raw_feeds.insert_many(
        [
            {"importLogId": finished_log.id, "seq": 0, "fetchedAt": now - timedelta(hours=2)},
            {"importLogId": recent_log.id, "seq": 0, "fetchedAt": now - timedelta(minutes=10)},
        ]
    )

    async with leader_firing(isolation, **KEPT) as firing:
        result = await firing.tick(now, fence=1)
    # old_done, dead_old, the seven and ended's: within 5 rounds of 2 for each of the 2 kinds
    assert (result.expired.executions, result.expired.tasks) == (10, 1)
    assert (result.expired.import_logs, result.expired.raw_feeds) == (1, 1)
    left = {doc["_id"] for doc in await db.executions.find({}, {"_id": 1}).to_list()}
    assert left == {kept_young.id, failed_young.id, running.id}
    assert await db.dead_letters.count_documents({}) == 0
    logs = {doc["_id"] for doc in await db.import_logs.find({}, {"_id": 1}).to_list()}
    assert logs == {recent_log.id, running_log.id}
    assert [doc["importLogId"] for doc in await db.raw_feeds.find({}).to_list()] == [recent_log.id]

    # the tasks remember their expired runs: counts by outcome, and the last one when all went
    shown = (await api.get(f"/api/v1/tasks/{bulk.id}", headers=me)).json()
    assert shown["expiredRuns"] == {"completed": 7}
    assert shown["lastRun"]["status"] == "completed"
    assert shown["lastRun"]["at"].startswith(ago[1].isoformat()[:19])
    shown = (await api.get(f"/api/v1/tasks/{task.id}", headers=me)).json()
    assert shown["expiredRuns"] == {"completed": 1, "dead": 1}
    assert shown["lastRun"]["executionId"] == str(running.id)  # newer than any that expired
    gone = await api.get(f"/api/v1/executions/{old_done.id}", headers=me)
    assert gone.status_code == 404
    assert (await api.get(f"/api/v1/tasks/{ended.id}", headers=me)).status_code == 404

    # the api says when each kept one goes, and how long each kind is kept
    young = (await api.get(f"/api/v1/executions/{failed_young.id}", headers=me)).json()
    # (by the api's own settings, the defaults: 7 days for a failed one)
    assert young["expiresAt"].startswith((ago[1] + timedelta(days=7)).isoformat()[:19])
    assert (await api.get(f"/api/v1/executions/{running.id}", headers=me)).json()["expiresAt"] is None
    policy = (await api.get("/api/v1/retention", headers=me)).json()
    assert policy == {
        "completedSeconds": 24 * HOUR,  # the api's own settings: the defaults
        "failedSeconds": 7 * 24 * HOUR,
        "importLogsSeconds": 30 * 24 * HOUR,
        "rawFeedsSeconds": 7 * 24 * HOUR,
    }


async def test_a_backlog_drains_in_bounded_sweeps(isolation: Isolation, db: Any) -> None:
    """Never one huge delete: at most rounds x batch of a kind per sweep, the rest next time."""
    task = a_task()
    old = utcnow() - timedelta(days=2)
    runs = [
        an_execution(
            task, scheduled_for=old + timedelta(minutes=i), status=ExecutionStatus.COMPLETED, completed_at=old
        )
        for i in range(13)
    ]
    await store(db, task, *runs)
    async with leader_firing(isolation, retention_sweep_batch=2) as firing:
        firing.sweep_every = timedelta(0)
        first = await firing.tick(utcnow(), fence=1)
        second = await firing.tick(utcnow(), fence=1)
    assert (first.expired.executions, second.expired.executions) == (10, 3)
    stored = await db.tasks.find_one({"_id": task.id})
    assert stored["expiredRuns"] == {"completed": 13}
    assert stored["lastExpiredRun"]["status"] == "completed"
    assert stored["lastExpiredRun"]["executionId"] in {run.id for run in runs}


async def test_finished_workflows_expire_like_their_executions_and_running_ones_never(
    isolation: Isolation, db: Any
) -> None:
    def workflow(status: WorkflowStatus, hours_ago: float | None) -> Workflow:
        spec = StepSpec(id="a", kind="noop", max_retries=0, timeout_ms=1000, priority=5)
        made = Workflow.of("someone", "wf", [spec], {"a": "tasks.default"})
        made.status = status
        made.finished_at = None if hours_ago is None else utcnow() - timedelta(hours=hours_ago)
        return made

    old_done = workflow(WorkflowStatus.COMPLETED, 1.5)  # past an hour: goes
    young_failed = workflow(WorkflowStatus.FAILED, 1.5)  # failed ones are kept 2 hours
    old_cancelled = workflow(WorkflowStatus.CANCELLED, 2.5)  # goes
    running = workflow(WorkflowStatus.RUNNING, None)  # never
    await db.workflows.insert_many([w.to_mongo() for w in (old_done, young_failed, old_cancelled, running)])
    async with leader_firing(isolation, **KEPT) as firing:
        firing.sweep_every = timedelta(0)
        swept = (await firing.tick(utcnow(), fence=1)).expired
    assert swept.workflows == 2
    assert {doc["_id"] for doc in await db.workflows.find({}).to_list()} == {young_failed.id, running.id}
