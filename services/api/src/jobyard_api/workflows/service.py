"""Workflows: submit (validated as a graph), read, list, cancel. How they move on is
:mod:`jobyard_libs.workflows.progress` (shared with the worker and the scheduler)."""

from __future__ import annotations

import json

from jobyard_libs.auth import Principal
from jobyard_libs.documents import Oid
from jobyard_libs.errors import Conflict, Forbidden, NotFoundError, ValidationFailed, found
from jobyard_libs.listing import Slice, Window
from jobyard_libs.mongo import utcnow
from jobyard_libs.tasks.kinds import KINDS
from jobyard_libs.tasks.lifecycle import ExecutionLifecycle
from jobyard_libs.tasks.models import ExecutionStatus, TaskType, queue_for
from jobyard_libs.tasks.repository import ExecutionRepository
from jobyard_libs.tasks.rights import CronFloors
from jobyard_libs.tasks.schedule import ScheduleRefused, first_run
from jobyard_libs.workflows.documents import Workflow
from jobyard_libs.workflows.metrics import WORKFLOWS
from jobyard_libs.workflows.models import StepSpec, StepStatus, WorkflowStatus, graph_problem, references
from jobyard_libs.workflows.replies import StepOut, WorkflowOut
from jobyard_libs.workflows.repository import WorkflowRepository

from jobyard_api.audit.service import AuditService
from jobyard_api.workflows.schemas import WorkflowIn

RUNNING = {ExecutionStatus.PROCESSING, ExecutionStatus.RETRYING}
RUNS_LOOKED_AT = 50  # runs of a pending step read to say whether it is processing: a page costs bounded reads


class WorkflowNotFound(NotFoundError):
    message = "workflow not found"


class WorkflowFinished(Conflict):
    code = "workflow_state"


class StepKindNotAllowed(Forbidden):
    code = "kind_not_allowed"


class WorkflowService:
    def __init__(
        self,
        workflows: WorkflowRepository,
        executions: ExecutionRepository,
        lifecycle: ExecutionLifecycle,
        audit: AuditService,
        *,
        max_steps: int,
        payload_max_bytes: int,
        floors: CronFloors,
    ) -> None:
        self.floors = floors
        self.workflows = workflows
        self.executions = executions
        self.lifecycle = lifecycle
        self.progress = lifecycle.workflows
        self.audit = audit
        self.max_steps = max_steps
        self.payload_max_bytes = payload_max_bytes

    def build(self, body: WorkflowIn, principal: Principal) -> Workflow:
        """The workflow a submission asks for; 422 (403 for a kind the role may not run)
        naming the step's field otherwise."""
        specs = [StepSpec.model_validate(step.model_dump()) for step in body.steps]
        problem = graph_problem(specs, max_steps=self.max_steps)
        if problem is not None:
            raise ValidationFailed(problem[1], field=problem[0])
        for i, spec in enumerate(specs):
            kind = KINDS.get(spec.kind)
            if kind is None:
                raise ValidationFailed(
                    f"unknown kind {spec.kind!r}; known: {', '.join(sorted(KINDS))}", field=f"steps[{i}].kind"
                )
            if not kind.allows(principal.role):
                raise StepKindNotAllowed(
                    f"steps of kind {spec.kind!r} need the admin role", field=f"steps[{i}].kind"
                )
            if len(json.dumps(spec.payload)) > self.payload_max_bytes:
                raise ValidationFailed(
                    f"payload larger than {self.payload_max_bytes} bytes", field=f"steps[{i}].payload"
                )
            # with references, it is checked when they are resolved
            problem = None if references(spec.payload) else kind.payload_problem(spec.payload)
            if problem is not None:
                where, what = problem
                raise ValidationFailed(
                    f"payload.{where}: {what}", field=f"steps[{i}].payload.{where}".rstrip(".")
                )
        if body.type is TaskType.RECURRING and not body.cron:
            raise ValidationFailed("recurring workflows need cron", field="cron")
        cron = body.cron if body.type is TaskType.RECURRING else None
        try:
            next_run_at = first_run(
                body.type is TaskType.DELAYED,
                body.scheduled_at,
                cron,
                body.timezone,
                least=self.floors.for_role(principal.role),
                now=utcnow(),
            )
        except ScheduleRefused as exc:
            raise ValidationFailed(str(exc), field=exc.field) from exc
        queues = {spec.id: queue_for(spec.priority).value for spec in specs}
        return Workflow.of(
            principal.subject,
            body.name,
            specs,
            queues,
            type=body.type,
            scheduled_at=body.scheduled_at if body.type is TaskType.DELAYED else None,
            cron=cron,
            timezone=body.timezone,
            next_run_at=next_run_at,
        )

    async def submit(self, body: WorkflowIn, principal: Principal) -> Workflow:
        workflow = await self.workflows.insert(self.build(body, principal))
        if workflow.status is WorkflowStatus.PENDING:
            return workflow  # the scheduler's leader starts it (or its runs)
        WORKFLOWS.labels("started").inc()
        return found(await self.progress.advance(workflow.id), WorkflowNotFound)  # its first steps start

    async def get(self, workflow_id: Oid, principal: Principal) -> Workflow:
        return found(await self.workflows.get(workflow_id, principal.scope), WorkflowNotFound)

    async def page(
        self,
        principal: Principal,
        window: Window,
        *,
        status: WorkflowStatus | None,
        owner: str | None,
        recurring_id: Oid | None = None,
    ) -> Slice[Workflow]:
        if owner is not None and not principal.is_admin:
            raise ValidationFailed("only admins filter by owner", field="ownerId")
        return await self.workflows.page(
            principal.scope, window, status=status, owner=owner, recurring_id=recurring_id
        )

    async def cancel(self, workflow_id: Oid, principal: Principal) -> Workflow:
        """No step starts any more; waiting ones are cancelled, running ones stopped (their
        workflow ends ``cancelled`` when the last has stopped). A delayed workflow not started
        yet is cancelled now; a recurring one starts no more runs (those running go on: each
        is a workflow of its own)."""
        workflow = await self.get(workflow_id, principal)
        await self.audit.on_others_work(
            principal, workflow.owner_id, "cancel", ("workflow", str(workflow.id))
        )
        if workflow.status is WorkflowStatus.PENDING and await self.workflows.cancel_pending(workflow):
            WORKFLOWS.labels("cancelled").inc()  # not started (or recurring: no more runs start)
            return await self.get(workflow_id, principal)
        asked = await self.workflows.request_cancel(workflow.id)
        if asked is None:
            raise WorkflowFinished(f"the workflow is {workflow.status.value} already")
        for step_id, step in asked.steps.items():
            if step.status is StepStatus.WAITING:
                await self.workflows.end_step(
                    asked.id, step_id, StepStatus.CANCELLED, expected=StepStatus.WAITING
                )
            elif step.status is StepStatus.PENDING:
                for run in step.runs:
                    if run not in step.ended:  # a forEach step's runs noted ended have nothing to stop
                        await self.lifecycle.cancel(run)
        return found(await self.progress.advance(asked.id), WorkflowNotFound)

    async def views(self, workflows: list[Workflow]) -> list[WorkflowOut]:
        """As the API shows them: a pending step whose attempt runs (or waits to retry) is
        ``processing`` (one look-up of their executions for the lot)."""
        pending = [
            run
            for workflow in workflows
            for step in workflow.steps.values()
            if step.status is StepStatus.PENDING
            # a forEach step's first unfinished runs: its workers take them in this order
            for run in [run for run in step.runs if run not in step.ended][:RUNS_LOOKED_AT]
        ]
        running = (
            {e.id for e in await self.executions.of_ids(pending) if e.status in RUNNING} if pending else set()
        )
        return [
            WorkflowOut(
                id=str(workflow.id),
                owner_id=workflow.owner_id,
                name=workflow.name,
                status=workflow.status,
                cancel_requested=workflow.cancel_requested,
                steps=[
                    StepOut(
                        id=step_id,
                        kind=step.kind,
                        depends_on=step.depends_on,
                        run_if=step.run_if,
                        status="processing" if running.intersection(step.runs) else step.status.value,
                        for_each=step.for_each,
                        execution_id=str(step.runs[0]) if step.runs and step.for_each is None else None,
                        execution_ids=[str(run) for run in step.runs],
                        started_at=step.started_at,
                        finished_at=step.finished_at,
                        result=step.result,
                        error=step.error,
                    )
                    for step_id, step in ((name, workflow.steps[name]) for name in workflow.order)
                ],
                type=workflow.type,
                scheduled_at=workflow.scheduled_at,
                cron=workflow.cron,
                timezone=workflow.timezone,
                next_run_at=workflow.next_run_at,
                run_count=workflow.run_count,
                recurring_id=None if workflow.recurring_id is None else str(workflow.recurring_id),
                scheduled_for=workflow.scheduled_for,
                cancel_reason=workflow.cancel_reason,
                created_at=workflow.created_at,
                started_at=workflow.started_at,
                updated_at=workflow.updated_at,
                finished_at=workflow.finished_at,
            )
            for workflow in workflows
        ]
