"""The leader starts delayed workflows at their time and the runs of recurring ones at each
of their cron's moments: once each, with two leaders, a stale one, or one that died between
storing a run and claiming it (real MongoDB and Redis)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from jobyard_libs.documents import derived_id
from jobyard_libs.tasks.models import TaskType
from jobyard_libs.workflows.documents import Workflow
from jobyard_libs.workflows.models import StepSpec, StepStatus, WorkflowStatus
from jobyard_libs.workflows.repository import INDEXES, WorkflowRepository

from tests.conftest import Isolation
from tests.support.scheduling import leader_firing

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _chain(owner: str = "owner-1", **schedule: Any) -> Workflow:
    def step(id: str, *depends_on: str) -> StepSpec:
        return StepSpec(
            id=id, kind="noop", depends_on=list(depends_on), max_retries=0, timeout_ms=1000, priority=5
        )

    specs = [step("a"), step("b", "a")]
    return Workflow.of(owner, "nightly", specs, dict.fromkeys("ab", "tasks.default"), **schedule)


async def _stored(db: Any, workflow_id: ObjectId) -> Workflow:
    found = await WorkflowRepository(db).get(workflow_id, None)
    assert found is not None
    return found


async def _indexed(db: Any) -> WorkflowRepository:
    await db.workflows.create_indexes([spec.model() for spec in INDEXES])
    return WorkflowRepository(db)


async def test_a_delayed_workflow_starts_once_at_its_time(isolation: Isolation, db: Any) -> None:
    due = START + timedelta(minutes=30)
    workflow = _chain(type=TaskType.DELAYED, scheduled_at=due, next_run_at=due)
    await (await _indexed(db)).insert(workflow)
    async with leader_firing(isolation) as firing:
        assert (await firing.tick(due - timedelta(seconds=1), fence=1)).workflows_started == 0  # not yet
        assert (await _stored(db, workflow.id)).status is WorkflowStatus.PENDING
        assert await db.executions.count_documents({}) == 0
        assert (await firing.tick(due, fence=1)).workflows_started == 1
        assert (await firing.tick(due + timedelta(minutes=5), fence=1)).workflows_started == 0  # once
    started = await _stored(db, workflow.id)
    assert started.status is WorkflowStatus.RUNNING and started.next_run_at is None
    assert started.run_count == 1 and started.started_at is not None
    assert started.steps["a"].status is StepStatus.PENDING and started.steps["b"].status is StepStatus.WAITING
    [execution] = await db.executions.find({}).to_list()
    assert execution["workflowId"] == workflow.id and execution["stepId"] == "a"


async def test_two_leaders_start_one_run_per_moment_of_a_recurring_workflow(
    isolation: Isolation, db: Any
) -> None:
    repository = await _indexed(db)
    workflow = _chain(type=TaskType.RECURRING, cron="*/5 * * * *", next_run_at=START)
    await repository.insert(workflow)
    async with leader_firing(isolation) as first, leader_firing(isolation) as second:
        for minutes in (0, 5, 10):  # two leaders (a lease that changed hands) tick at the same moment
            now = START + timedelta(minutes=minutes)
            results = await asyncio.gather(first.tick(now, fence=3), second.tick(now, fence=3))
            assert sum(result.workflows_started for result in results) == 1
    runs = Workflow.many(
        await db.workflows.find({"recurringId": workflow.id}).sort("scheduledFor", 1).to_list()
    )
    moments = [START + timedelta(minutes=m) for m in (0, 5, 10)]
    assert [run.scheduled_for for run in runs] == moments
    assert [run.id for run in runs] == [derived_id(workflow.id, at) for at in moments]
    for run in runs:  # each run is a workflow of its own, started: its first step queued
        assert run.status is WorkflowStatus.RUNNING and run.type is TaskType.ONE_TIME
        assert run.steps["a"].status is StepStatus.PENDING and len(run.steps["a"].runs) == 1
    assert await db.executions.count_documents({"stepId": "a"}) == 3
    recurring = await _stored(db, workflow.id)
    assert recurring.status is WorkflowStatus.PENDING and recurring.run_count == 3
    assert recurring.next_run_at == START + timedelta(minutes=15)
    assert all(step.status is StepStatus.WAITING and not step.runs for step in recurring.steps.values())


async def test_a_leader_that_died_after_storing_a_run_leaves_it_to_the_next_once(
    isolation: Isolation, db: Any
) -> None:
    repository = await _indexed(db)
    workflow = _chain(type=TaskType.RECURRING, cron="*/5 * * * *", next_run_at=START)
    await repository.insert(workflow)
    assert await repository.insert_run(workflow.run_at(START))  # and then it died: not claimed, not started
    async with leader_firing(isolation) as firing:
        assert (await firing.tick(START, fence=2)).workflows_started == 1
    [run] = Workflow.many(await db.workflows.find({"recurringId": workflow.id}).to_list())
    assert run.id == derived_id(workflow.id, START) and run.steps["a"].status is StepStatus.PENDING
    assert await db.executions.count_documents({}) == 1
    assert (await _stored(db, workflow.id)).next_run_at == START + timedelta(minutes=5)


async def test_a_stale_leader_cannot_start_a_run(isolation: Isolation, db: Any) -> None:
    repository = await _indexed(db)
    workflow = _chain(type=TaskType.RECURRING, cron="*/5 * * * *", next_run_at=START)
    await repository.insert(workflow)
    async with leader_firing(isolation) as firing:
        assert (await firing.tick(START, fence=7)).workflows_started == 1
        later = START + timedelta(minutes=5)
        assert (await firing.tick(later, fence=6)).workflows_started == 0  # an older token
        assert (await firing.tick(later, fence=8)).workflows_started == 1
    assert (await _stored(db, workflow.id)).run_count == 2


async def test_a_missed_run_runs_once_late_and_the_next_is_the_next_from_now(
    isolation: Isolation, db: Any
) -> None:
    repository = await _indexed(db)
    workflow = _chain(type=TaskType.RECURRING, cron="0 * * * *", next_run_at=START)
    await repository.insert(workflow)
    late = START + timedelta(hours=3, minutes=10)  # no leader lived for three hours
    async with leader_firing(isolation) as firing:
        assert (await firing.tick(late, fence=1)).workflows_started == 1
    assert await db.workflows.count_documents({"recurringId": workflow.id}) == 1
    assert (await _stored(db, workflow.id)).next_run_at == START + timedelta(hours=4)


async def test_a_workflow_its_owner_may_no_longer_run_is_cancelled_with_the_reason(
    isolation: Isolation, db: Any
) -> None:
    repository = await _indexed(db)
    owner = ObjectId()
    await db.users.insert_one({"_id": owner, "email": "gone@example.com", "role": "user", "active": False})
    workflow = _chain(str(owner), type=TaskType.RECURRING, cron="*/5 * * * *", next_run_at=START)
    await repository.insert(workflow)
    async with leader_firing(isolation) as firing:
        assert (await firing.tick(START, fence=1)).workflows_started == 0
    refused = await _stored(db, workflow.id)
    assert (
        refused.status is WorkflowStatus.CANCELLED
        and refused.cancel_reason == "its owner's account is deactivated"
    )
    assert {step.status for step in refused.steps.values()} == {StepStatus.CANCELLED}
    assert await db.workflows.count_documents({"recurringId": workflow.id}) == 0
    assert await db.executions.count_documents({}) == 0
