"""How a workflow moves on: the one rule, run by whoever sees a step's execution end (the
worker that finished it, the api that cancelled it) and by the scheduler's reconciler.

:meth:`WorkflowProgress.advance` reads the workflow and its pending steps' executions and
then, until nothing changes: ends each step whose execution ended; decides each waiting
step whose dependencies are all done (run, or skip when its condition can no longer
hold); ends the workflow when every step is done. Every change is a conditional update
(:mod:`jobyard_libs.workflows.repository`), so any number of processes may advance the
same workflow at once and each step starts exactly once.

A step starts in two writes: the workflow records the step ``pending`` with the ids its
executions will have (one, or one per ``forEach`` item), then the executions are stored
under those ids and queued. A process that dies between the two leaves a pending step with
executions missing; the next advance that looks (any process's, or the scheduler's
reconciler after ``JOBYARD_SCHEDULER_WORKFLOW_RECONCILE_SECONDS`` of quiet) stores them.
Stored twice, each is one execution: the id is the same, and the executions' unique
(taskId, scheduledFor) key holds one per run of a step. A lost queue message is found like
any other (:func:`jobyard_libs.tasks.dispatch.lost`), and a duplicate one runs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import structlog
from dramatiq import Broker

from jobyard_libs.documents import Oid, new_id
from jobyard_libs.mongo import Database, utcnow
from jobyard_libs.tasks.dispatch import dispatch
from jobyard_libs.tasks.documents import Execution
from jobyard_libs.tasks.kinds import KINDS
from jobyard_libs.tasks.models import ExecutionStatus
from jobyard_libs.tasks.repository import ExecutionRepository
from jobyard_libs.workflows.documents import Step, Workflow
from jobyard_libs.workflows.metrics import OLDEST_QUIET, STEP_WAIT, STORED_LATE, WORKFLOWS
from jobyard_libs.workflows.models import (
    FOR_EACH_MAX,
    ITEM,
    RUNS_MAX,
    Decision,
    MissingInput,
    StepStatus,
    WorkflowStatus,
    decide,
    ended,
    items_of,
    resolve,
)
from jobyard_libs.workflows.repository import WorkflowRepository

log = structlog.get_logger(__name__)
ROUNDS_MAX = 1000  # a workflow moves at most this many times in one advance (a step a round, at least)
STEP_OF = {
    ExecutionStatus.COMPLETED: StepStatus.COMPLETED,
    ExecutionStatus.DEAD: StepStatus.DEAD,
    ExecutionStatus.CANCELLED: StepStatus.CANCELLED,
}
MOVING = (WorkflowStatus.RUNNING,)
RESULT_MAX_BYTES = 64 * 1024  # a step's result kept for the steps after it


class WorkflowProgress:
    def __init__(self, db: Database, broker: Broker) -> None:
        self.workflows = WorkflowRepository(db)
        self.executions = ExecutionRepository(db)
        self.broker = broker

    async def advance(self, workflow_id: Oid, ended: Sequence[Execution] | None = None) -> Workflow | None:
        """Move the workflow on as far as it goes now; the workflow as it is then.

        ``ended``: executions of its steps that just ended (the lifecycle's). Each is noted
        on its step (one small update); the workflow is read only when a step's last run was
        noted, and only that step is ended from what its runs came to (``None``: nothing
        ended a step). ``ended`` ``None`` (the reconciler, the api, the leader): every
        pending step's executions are read, and those never stored are stored."""
        hints = None if ended is None else await self._last_runs(workflow_id, ended)
        if hints == []:
            return None
        for _ in range(ROUNDS_MAX):
            workflow = await self.workflows.get(workflow_id, None)
            if workflow is None or workflow.status not in MOVING:
                return workflow  # gone, ended, or not started (the leader starts it)
            if not await self._round(workflow, hints):
                return workflow
            hints = None if hints is None else []  # recorded: the next rounds only decide
        return await self.workflows.get(workflow_id, None)

    async def _last_runs(self, workflow_id: Oid, ended: Sequence[Execution]) -> list[Execution]:
        """Of these ended executions, those whose step has now had every run noted as ended
        (each noted once, however often it is told): the runs of one step in one update, or,
        when one of them was told before, one at a time."""
        by_step: dict[str, list[Execution]] = {}
        for execution in ended:
            if execution.step_id is not None and STEP_OF.get(execution.status) is not None:
                by_step.setdefault(execution.step_id, []).append(execution)
        last: dict[str, Execution] = {}  # a step's run that saw it complete (one is enough)
        for step_id, executions in by_step.items():
            runs = list({execution.id: execution for execution in executions}.values())
            together = await self.workflows.note_runs_ended(workflow_id, step_id, [run.id for run in runs])
            noted = (
                [(together, runs[-1])]
                if together is not None or len(runs) == 1
                else [
                    (await self.workflows.note_runs_ended(workflow_id, step_id, [run.id]), run)
                    for run in runs
                ]
            )
            for counts, execution in noted:
                if counts is not None and counts.ended >= counts.runs:  # runs 0: stored uncounted, look
                    last[step_id] = execution
        return list(last.values())

    async def _round(self, workflow: Workflow, hints: list[Execution] | None) -> bool:
        if hints is None:
            moved = await self._ended_steps(workflow)
        else:
            moved = await self._ended_runs(workflow, hints)
        for step_id in workflow.order:
            step = workflow.steps[step_id]
            if step.status is StepStatus.WAITING:
                moved |= await self._decide(workflow, step_id, step)
        if not moved:
            outcome = ended([step.status for step in workflow.steps.values()])
            if outcome is not None and await self.workflows.finish(workflow.id, outcome):
                moved = True
                WORKFLOWS.labels(outcome.value).inc()
                log.info("workflow_ended", workflow_id=str(workflow.id), status=outcome.value)
        return moved

    async def _ended_steps(self, workflow: Workflow) -> bool:
        """Each pending step whose executions all ended takes their outcome; one whose
        executions were not all stored (its starter died) gets them now."""
        pending = {
            step_id: step
            for step_id, step in workflow.steps.items()
            if step.status is StepStatus.PENDING and step.runs
        }
        if not pending:
            return False
        ids = [run for step in pending.values() for run in step.runs]
        found = {execution.id: execution for execution in await self.executions.of_ids(ids)}
        moved = False
        for step_id, step in pending.items():
            runs = [found.get(run) for run in step.runs]
            if None in runs:  # its starter died before storing them all
                log.warning("workflow_step_stored_late", workflow_id=str(workflow.id), step=step_id)
                STORED_LATE.inc()
                await self._store(workflow, step_id, step)
                continue
            moved |= await self._end(workflow, step_id, step, [run for run in runs if run is not None])
        return moved

    async def _ended_runs(self, workflow: Workflow, hints: list[Execution]) -> bool:
        """The steps whose last run these executions were: each takes what its runs came to
        (a step of one run, its execution's; a forEach step's, read once)."""
        moved = False
        for execution in hints:
            step_id = execution.step_id or ""
            step = workflow.steps.get(step_id)
            if step is None or step.status is not StepStatus.PENDING or execution.id not in step.runs:
                continue
            runs = [execution] if len(step.runs) == 1 else await self.executions.of_ids(step.runs)
            moved |= await self._end(workflow, step_id, step, runs)
        return moved

    async def _end(self, workflow: Workflow, step_id: str, step: Step, executions: list[Execution]) -> bool:
        """The step takes what its runs came to, once every one has ended."""
        by_id = {execution.id: execution for execution in executions}
        runs = [by_id.get(run) for run in step.runs]
        outcomes = [STEP_OF.get(run.status) if run is not None else None for run in runs]
        if None in outcomes:
            return False  # one still runs (or is not stored yet)
        results = [run.result for run in runs if run is not None]
        errors = [run.error for run in runs if run is not None and run.error]
        return await self.workflows.end_step(
            workflow.id,
            step_id,
            next((o for o in (StepStatus.CANCELLED, StepStatus.DEAD) if o in outcomes), StepStatus.COMPLETED),
            expected=StepStatus.PENDING,
            result=_kept({"items": results} if step.for_each is not None else results[0]),
            error=errors[0] if errors else None,
        )

    async def _decide(self, workflow: Workflow, step_id: str, step: Step) -> bool:
        decision = decide(step.run_if, [workflow.steps[name].status for name in step.depends_on])
        if decision is Decision.WAIT:
            return False
        if decision is Decision.SKIP or workflow.cancel_requested:
            status = StepStatus.CANCELLED if workflow.cancel_requested else StepStatus.SKIPPED
            return await self.workflows.end_step(workflow.id, step_id, status, expected=StepStatus.WAITING)
        try:
            payloads = _runs(workflow, step_id, step)
        except (MissingInput, ValueError) as exc:
            return await self.workflows.end_step(
                workflow.id, step_id, StepStatus.FAILED, expected=StepStatus.WAITING, error=str(exc)[:500]
            )
        existing = sum(len(other.runs) for other in workflow.steps.values())
        if existing + len(payloads) > RUNS_MAX:
            return await self.workflows.end_step(
                workflow.id,
                step_id,
                StepStatus.FAILED,
                expected=StepStatus.WAITING,
                error=f"{len(payloads)} more executions would make {existing + len(payloads)} in this workflow; "
                f"at most {RUNS_MAX}",
            )
        if not payloads:  # a forEach over an empty list: done, with nothing to collect
            return await self.workflows.end_step(
                workflow.id, step_id, StepStatus.COMPLETED, expected=StepStatus.WAITING, result={"items": []}
            )
        runs = [new_id() for _ in payloads]
        if not await self.workflows.start_step(workflow.id, step_id, runs):
            return True  # another process started it (or a cancel came): read it again
        started = step.model_copy(update={"status": StepStatus.PENDING, "runs": runs})
        workflow.steps[step_id] = started  # the next decisions of this round count its runs
        await self._store(workflow, step_id, started)
        began = workflow.started_at or workflow.created_at
        ready = [workflow.steps[name].finished_at for name in step.depends_on] or [began]
        STEP_WAIT.observe(max(0.0, (utcnow() - max(at or began for at in ready)).total_seconds()))
        return True

    async def _store(self, workflow: Workflow, step_id: str, step: Step) -> None:
        """The step's executions, stored once each under the ids the workflow chose, and queued."""
        now = utcnow()
        position = workflow.order.index(step_id) * (FOR_EACH_MAX + 1)
        executions = [
            Execution(
                id=run,
                task_id=workflow.id,
                owner_id=workflow.owner_id,
                kind=step.kind,
                payload=payload,
                queue=step.queue,
                max_retries=step.max_retries,
                timeout_ms=step.timeout_ms,
                trigger="workflow",
                # one per run of a step: the executions' unique (taskId, scheduledFor) key holds it so
                scheduled_for=workflow.created_at + timedelta(milliseconds=position + index),
                enqueued_at=now,
                workflow_id=workflow.id,
                step_id=step_id,
                inputs=inputs,
            )
            for index, (run, (inputs, payload)) in enumerate(
                zip(step.runs, _runs(workflow, step_id, step), strict=True)
            )
        ]
        created = await self.executions.create_many(executions)
        if created:
            await dispatch(self.broker, self.executions, created, stamped=now)
            log.info("workflow_step_started", workflow_id=str(workflow.id), step=step_id, runs=len(created))

    async def reconcile(self, quiet_seconds: float, limit: int = 100) -> int:
        """Advance the running workflows nothing moved for ``quiet_seconds`` (a process died
        between two of their writes, or missed an execution's end); how many it looked at.
        Each is marked checked, so it is looked at again only after another quiet spell."""
        before = utcnow() - timedelta(seconds=quiet_seconds)
        quiet = await self.workflows.quiet_since(before, limit)
        for workflow in quiet:
            after = await self.advance(workflow.id)
            if after is not None and after.finished_at is None:
                await self.workflows.checked(workflow.id)
        oldest = await self.workflows.least_recently_moved()
        OLDEST_QUIET.set(0 if oldest is None else max(0.0, (utcnow() - oldest).total_seconds()))
        return len(quiet)


def _runs(workflow: Workflow, step_id: str, step: Step) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The inputs and payload of each of the step's runs (one, or one per forEach item),
    references resolved and checked against its kind. A step's one run receives its
    dependencies' results; a forEach run, its item alone (``{"item": ...}``): the list, and
    whatever else it depends on, is not copied into each of a thousand runs."""
    inputs = workflow.inputs_of(step_id)
    items = [None] if step.for_each is None else items_of(step.for_each, inputs)
    spec = KINDS[step.kind]
    runs = []
    for item in items:
        payload = resolve(step.payload, inputs, item)
        problem = spec.payload_problem(payload)
        if problem is not None:
            raise ValueError(f"payload.{problem[0]}: {problem[1]}")
        runs.append((inputs if step.for_each is None else {ITEM: item}, payload))
    return runs


def _kept(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """A result as the steps after it receive it: whole up to RESULT_MAX_BYTES, else refused
    (a step that needs more reads it from storage of its own)."""
    if result is not None and len(json.dumps(result, default=str)) > RESULT_MAX_BYTES:
        return {"truncated": True, "note": f"the result was larger than {RESULT_MAX_BYTES} bytes"}
    return result
