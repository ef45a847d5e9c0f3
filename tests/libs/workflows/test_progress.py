"""A workflow moves on exactly once however many processes push it, and after a crash
between a step's start and its execution's store (real MongoDB and Redis)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from dramatiq.brokers.redis import RedisBroker
from jobyard_libs.app import Resources
from jobyard_libs.documents import new_id
from jobyard_libs.mongo import utcnow
from jobyard_libs.queue.broker import messages_present
from jobyard_libs.tasks.dispatch import message_id
from jobyard_libs.tasks.documents import Execution
from jobyard_libs.tasks.models import ExecutionStatus
from jobyard_libs.workflows import progress as progress_module
from jobyard_libs.workflows.documents import Workflow
from jobyard_libs.workflows.models import StepSpec, StepStatus, WorkflowStatus
from jobyard_libs.workflows.progress import WorkflowProgress
from jobyard_libs.workflows.repository import WorkflowRepository

from tests.conftest import Isolation
from tests.support.scheduling import leader_firing


def _diamond() -> Workflow:
    def step(id: str, *depends_on: str) -> StepSpec:
        return StepSpec(
            id=id, kind="noop", depends_on=list(depends_on), max_retries=0, timeout_ms=1000, priority=5
        )

    specs = [step("a"), step("b", "a"), step("c", "a"), step("d", "b", "c")]
    return Workflow.of("owner-1", "diamond", specs, {s.id: "tasks.default" for s in specs})


async def _executions_of(resources: Resources, workflow: Workflow) -> list[Execution]:
    return Execution.many(await resources.db["executions"].find({"workflowId": workflow.id}).to_list())


async def test_a_join_whose_dependencies_finished_together_starts_once(
    resources: Resources, broker: RedisBroker
) -> None:
    workflow = _diamond()
    for done in ("a", "b", "c"):  # b and c completed at the same moment, on two workers
        workflow.steps[done].status = StepStatus.COMPLETED
        workflow.steps[done].result = {"by": done}
    await WorkflowRepository(resources.db).insert(workflow)
    pushers = [WorkflowProgress(resources.db, broker) for _ in range(8)]  # eight processes
    await asyncio.gather(*(p.advance(workflow.id) for p in pushers for _ in range(3)))
    [join] = await _executions_of(resources, workflow)
    assert join.step_id == "d"
    assert join.inputs == {"b": {"by": "b"}, "c": {"by": "c"}}
    stored = await WorkflowRepository(resources.db).get(workflow.id, None)
    assert stored is not None and stored.steps["d"].runs == [join.id]
    assert stored.steps["d"].status is StepStatus.PENDING


async def test_a_crash_between_the_start_and_the_store_is_mended_by_the_reconciler(
    resources: Resources, broker: RedisBroker
) -> None:
    workflow = _diamond()
    repository = WorkflowRepository(resources.db)
    await repository.insert(workflow)
    # what a process that died right after winning step a's start leaves: the step pending
    # with its execution's id, no execution stored, nothing queued
    chosen = new_id()
    assert await repository.start_step(workflow.id, "a", [chosen])
    assert await _executions_of(resources, workflow) == []
    progress = WorkflowProgress(resources.db, broker)
    assert await progress.reconcile(quiet_seconds=60) == 0  # not quiet for long enough yet
    assert await _executions_of(resources, workflow) == []
    await progress.reconcile(quiet_seconds=0)
    await progress.reconcile(quiet_seconds=0)  # and again: still the one execution
    [execution] = await _executions_of(resources, workflow)
    assert execution.id == chosen and execution.step_id == "a"
    assert execution.enqueued_at is not None
    [queued] = messages_present(broker, [(execution.queue, message_id(execution.id, execution.enqueued_at))])
    assert queued


async def test_steps_whose_condition_cannot_hold_are_skipped_and_the_workflow_ends(
    resources: Resources, broker: RedisBroker
) -> None:
    workflow = _diamond()
    workflow.steps["a"].status = StepStatus.DEAD
    await WorkflowRepository(resources.db).insert(workflow)
    ended = await WorkflowProgress(resources.db, broker).advance(workflow.id)
    assert ended is not None
    assert {name: step.status for name, step in ended.steps.items()} == {
        "a": StepStatus.DEAD,
        "b": StepStatus.SKIPPED,
        "c": StepStatus.SKIPPED,
        "d": StepStatus.SKIPPED,
    }
    assert ended.status is WorkflowStatus.FAILED and ended.finished_at is not None
    assert await _executions_of(resources, workflow) == []


async def test_the_leaders_housekeeping_runs_the_reconciler(
    isolation: Isolation, resources: Resources
) -> None:
    workflow = _diamond()
    repository = WorkflowRepository(resources.db)
    await repository.insert(workflow)
    assert await repository.start_step(workflow.id, "a", [new_id()])  # and its starter died
    async with leader_firing(isolation, scheduler_workflow_reconcile_seconds=0.001) as firing:
        firing.sweep_every = timedelta(0)
        assert (await firing.tick(utcnow(), fence=1)).workflows_checked == 1
    [execution] = await _executions_of(resources, workflow)
    assert execution.step_id == "a" and execution.status is ExecutionStatus.PENDING


async def _fanned_out(
    resources: Resources, broker: RedisBroker, width: int
) -> tuple[Workflow, WorkflowProgress, list[Execution]]:
    """A workflow whose step ``each`` runs once per item of step ``a``'s ``width`` ids,
    started: the workflow, a process moving it, the runs in order."""
    root = StepSpec(id="a", kind="noop", max_retries=0, timeout_ms=1000, priority=5)
    each = root.model_copy(update={"id": "each", "for_each": "${a.result.ids}", "depends_on": ["a"]})
    workflow = Workflow.of("owner-1", "fan", [root, each], {"a": "tasks.default", "each": "tasks.default"})
    workflow.steps["a"].status = StepStatus.COMPLETED
    workflow.steps["a"].result = {"ids": list(range(width))}
    await WorkflowRepository(resources.db).insert(workflow)
    progress = WorkflowProgress(resources.db, broker)
    await progress.advance(workflow.id)
    return (
        workflow,
        progress,
        sorted(await _executions_of(resources, workflow), key=lambda e: e.scheduled_for),
    )


async def test_a_fan_out_step_ends_when_its_last_run_is_told_however_often_the_others_are(
    resources: Resources, broker: RedisBroker
) -> None:
    workflow, progress, runs = await _fanned_out(resources, broker, 3)
    assert len(runs) == 3
    executions = resources.db["executions"]

    repository = WorkflowRepository(resources.db)

    async def end(run: Execution) -> Workflow:
        await executions.update_one(
            {"_id": run.id}, {"$set": {"status": "completed", "result": {"n": run.id.binary.hex()}}}
        )
        await progress.advance(workflow.id, [run.model_copy(update={"status": ExecutionStatus.COMPLETED})])
        found = await repository.get(workflow.id, None)
        assert found is not None
        return found

    first = await end(runs[0])
    told_again = await progress.advance(
        workflow.id, [runs[0].model_copy(update={"status": ExecutionStatus.COMPLETED})]
    )
    assert told_again is None  # noted already: not even a read of the workflow
    await executions.update_one(
        {"_id": runs[2].id}, {"$set": {"status": "completed", "result": {"n": runs[2].id.binary.hex()}}}
    )
    both = [run.model_copy(update={"status": ExecutionStatus.COMPLETED}) for run in (runs[0], runs[2])]
    assert await progress.advance(workflow.id, both) is None  # told together, one of them again: one noted
    again = await repository.get(workflow.id, None)
    assert again is not None
    assert first.steps["each"].status is StepStatus.PENDING and first.steps["each"].ended == [runs[0].id]
    assert (again.steps["each"].ended_count, again.steps["each"].width) == (2, 3)
    last = await end(runs[1])
    assert last.status is WorkflowStatus.COMPLETED
    assert last.steps["each"].result == {"items": [{"n": run.id.binary.hex()} for run in runs]}  # in order


async def test_a_fan_out_run_replayed_while_the_others_run_is_counted_when_it_ends_again(
    resources: Resources, broker: RedisBroker
) -> None:
    workflow, progress, [died, other] = await _fanned_out(resources, broker, 2)
    repository = WorkflowRepository(resources.db)
    await progress.advance(workflow.id, [died.model_copy(update={"status": ExecutionStatus.DEAD})])
    assert await repository.resume(workflow.id, "each", died.id)  # replayed: it runs again
    await progress.advance(workflow.id, [other.model_copy(update={"status": ExecutionStatus.COMPLETED})])
    executions = resources.db["executions"]
    await executions.update_one({"_id": other.id}, {"$set": {"status": "completed"}})
    still = await repository.get(workflow.id, None)
    assert still is not None and still.steps["each"].status is StepStatus.PENDING  # the replay runs
    await executions.update_one({"_id": died.id}, {"$set": {"status": "completed", "result": {"ok": 1}}})
    after = await progress.advance(
        workflow.id, [died.model_copy(update={"status": ExecutionStatus.COMPLETED})]
    )
    assert after is not None and after.steps["each"].status is StepStatus.COMPLETED
    assert after.status is WorkflowStatus.COMPLETED


async def test_a_workflow_starts_no_more_executions_than_its_cap(
    resources: Resources, broker: RedisBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hostile graph (fan-outs over fan-outs) cannot make a submission into unbounded work."""
    monkeypatch.setattr(progress_module, "RUNS_MAX", 5)

    def each(id: str) -> StepSpec:
        return StepSpec(
            id=id,
            kind="noop",
            for_each="${a.result.ids}",
            depends_on=["a"],
            max_retries=0,
            timeout_ms=1000,
            priority=5,
        )

    root = StepSpec(id="a", kind="noop", max_retries=0, timeout_ms=1000, priority=5)
    workflow = Workflow.of(
        "owner-1", "wide", [root, each("x"), each("y")], dict.fromkeys("axy", "tasks.default")
    )
    workflow.steps["a"].status = StepStatus.COMPLETED
    workflow.steps["a"].result = {"ids": [1, 2, 3]}
    await WorkflowRepository(resources.db).insert(workflow)
    after = await WorkflowProgress(resources.db, broker).advance(workflow.id)
    assert after is not None
    assert len(after.steps["x"].runs) == 3 and after.steps["y"].status is StepStatus.FAILED
    assert "at most 5" in str(after.steps["y"].error)
    assert len(await _executions_of(resources, workflow)) == 3
