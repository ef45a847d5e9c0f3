"""Tasks: submit (one at a time or in batches), read, change, and control their runs."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from dramatiq import Broker
from jobyard_libs.auth import Principal, Role
from jobyard_libs.documents import Oid
from jobyard_libs.errors import Conflict, Forbidden, NotFoundError, ValidationFailed, found
from jobyard_libs.listing import TOTAL_CAP, Slice, Window
from jobyard_libs.mongo import Database, utcnow
from jobyard_libs.principals import PrincipalState
from jobyard_libs.signing import standard_secret
from jobyard_libs.tasks.dispatch import dispatch
from jobyard_libs.tasks.documents import Execution, Task, TaskChanges
from jobyard_libs.tasks.kinds import KINDS
from jobyard_libs.tasks.lifecycle import ExecutionLifecycle
from jobyard_libs.tasks.models import TaskAction, TaskStatus, TaskType, queue_for
from jobyard_libs.tasks.replies import LastRun, TaskCounts, TaskCreated, TaskOut
from jobyard_libs.tasks.repository import ExecutionRepository, TaskRepository
from jobyard_libs.tasks.rights import REASONS, CronFloors, task_refusal
from jobyard_libs.tasks.schedule import BadSchedule, ScheduleRefused, first_run, next_run
from jobyard_libs.tasks.settings import TaskSettings

from jobyard_api.audit.service import AuditService
from jobyard_api.tasks.schemas import TaskIn, TaskPatch


class TaskNotFound(NotFoundError):
    message = "task not found"


class IdempotencyConflict(Conflict):
    code, message = "idempotency_key_reused", "this Idempotency-Key was used with another request"


class TaskStateConflict(Conflict):
    code = "task_state"


class KindNotAllowed(Forbidden):
    code = "kind_not_allowed"


def request_hash(body: TaskIn) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


class TaskService:
    def __init__(
        self,
        db: Database,
        broker: Broker,
        lifecycle: ExecutionLifecycle,
        *,
        payload_max_bytes: int,
        batch_max: int,
        floors: CronFloors,
        secrets: TaskSettings,
        audit: AuditService,
    ) -> None:
        self.audit = audit
        self.secrets = secrets
        self.tasks = TaskRepository(db)
        self.executions = ExecutionRepository(db)
        self.lifecycle = lifecycle
        self.broker = broker
        self.payload_max_bytes = payload_max_bytes
        self.batch_max = batch_max
        self.floors = floors

    async def view(self, task: Task, viewer: Principal) -> TaskOut:
        """The task as the API shows it (with its last run); its webhook secret only to its owner."""
        [out] = await self.views([task], viewer)
        return out

    async def views(
        self,
        tasks: list[Task],
        viewer: Principal,
        *,
        last: dict[Oid, Execution] | None = None,
        reply: type[TaskOut] = TaskOut,
    ) -> list[TaskOut]:
        """Tasks as the API shows them, each with its last run (one indexed look-up a task,
        unless ``last`` says already what each one's is)."""
        if last is None:
            last = await self.executions.latest_of_tasks([task.id for task in tasks])
        outs = []
        for task in tasks:
            out = reply.model_validate(task)
            if viewer.subject == task.owner_id:
                out.webhook_secret = self.secrets.task_webhook_secret(str(task.id))
                out.standard_webhook_secret = standard_secret(out.webhook_secret)
            run = last.get(task.id)
            if run is not None:
                out.last_run = LastRun(
                    execution_id=str(run.id), status=run.status, at=run.completed_at or run.created_at
                )
            gone = task.last_expired_run  # retention deleted it; newer than every run kept, maybe
            if gone is not None and (out.last_run is None or out.last_run.at < gone.at):
                out.last_run = LastRun(execution_id=str(gone.execution_id), status=gone.status, at=gone.at)
            outs.append(out)
        return outs

    # --- submission -------------------------------------------------------------------

    def build(self, body: TaskIn, owner: str, role: Role, field_prefix: str = "") -> Task:
        """Validate a submission into a task; 422 naming the field otherwise."""
        kind = KINDS.get(body.kind)
        if kind is None:
            raise ValidationFailed(
                f"unknown kind {body.kind!r}; known: {', '.join(sorted(KINDS))}", field=f"{field_prefix}kind"
            )
        if not kind.allows(role):
            raise KindNotAllowed(
                f"tasks of kind {body.kind!r} need the admin role", field=f"{field_prefix}kind"
            )
        if len(json.dumps(body.payload)) > self.payload_max_bytes:
            raise ValidationFailed(
                f"payload larger than {self.payload_max_bytes} bytes", field=f"{field_prefix}payload"
            )
        problem = kind.payload_problem(body.payload)
        if problem is not None:
            where, what = problem
            raise ValidationFailed(
                f"payload.{where}: {what}", field=f"{field_prefix}payload.{where}".rstrip(".")
            )
        if body.type is TaskType.RECURRING and not body.cron:
            raise ValidationFailed("recurring tasks need cron", field=f"{field_prefix}cron")
        try:
            next_run_at = first_run(
                body.type is TaskType.DELAYED,
                body.scheduled_at,
                body.cron if body.type is TaskType.RECURRING else None,
                body.timezone,
                least=self.floors.for_role(role),
                now=utcnow(),
            )
        except ScheduleRefused as exc:
            raise ValidationFailed(str(exc), field=f"{field_prefix}{exc.field}") from exc
        return Task(
            owner_id=owner,
            name=body.name,
            description=body.description,
            type=body.type,
            kind=body.kind,
            payload=body.payload,
            priority=body.priority,
            queue=queue_for(body.priority).value,
            status=TaskStatus.DONE if body.type is TaskType.ONE_TIME else TaskStatus.ACTIVE,
            scheduled_at=body.scheduled_at,
            cron=body.cron if body.type is TaskType.RECURRING else None,
            timezone=body.timezone,
            misfire_policy=body.misfire_policy,
            next_run_at=next_run_at,
            max_retries=body.max_retries,
            timeout_ms=body.timeout_ms,
            webhook_url=str(body.webhook_url) if body.webhook_url else None,
        )

    async def submit(self, body: TaskIn, principal: Principal, idempotency_key: str | None) -> TaskCreated:
        """Store a task (a one-time one with its execution, queued now); the reply shows it.

        A new task's last run is the execution made here, so the reply needs no look-up; a
        replayed one (the same Idempotency-Key) is shown as it is now.
        """
        task, execution, replayed = await self._submit(body, principal, idempotency_key)
        last: dict[Oid, Execution] | None = None  # looked up: the task as it is now
        if not replayed and (execution is not None or body.type is not TaskType.ONE_TIME):
            last = {task.id: execution} if execution is not None else {}  # a delayed or cron task: none yet
        [created] = await self.views([task], principal, last=last, reply=TaskCreated)
        assert isinstance(created, TaskCreated)
        created.execution_id = str(execution.id) if execution else None
        return created

    async def _submit(
        self, body: TaskIn, principal: Principal, idempotency_key: str | None
    ) -> tuple[Task, Execution | None, bool]:
        task = self.build(body, principal.subject, principal.role)
        now = utcnow()
        if body.type is TaskType.ONE_TIME:  # it runs now: counted at once, as in a batch
            task.run_count, task.last_run_at = 1, now
        if idempotency_key:
            earlier = await self._replay(principal.subject, idempotency_key, body)
            if earlier is not None:
                return (*earlier, True)
            task.idempotency_key, task.request_hash = idempotency_key, request_hash(body)
        if not await self.tasks.insert(task):  # the same key raced in from another request
            earlier = await self._replay(principal.subject, str(idempotency_key), body)
            if earlier is None:
                raise TaskStateConflict("this Idempotency-Key is being used right now; try again")
            return (*earlier, True)
        execution = None
        if body.type is TaskType.ONE_TIME:
            execution = await self.executions.create(Execution.of(task, now, "submit", enqueued_at=now))
            if execution is not None:
                await dispatch(self.broker, self.executions, [execution], stamped=now)
        return task, execution, False

    async def _replay(self, owner: str, key: str, body: TaskIn) -> tuple[Task, Execution | None] | None:
        earlier = await self.tasks.by_idempotency_key(owner, key)
        if earlier is None:
            return None
        if earlier.request_hash != request_hash(body):
            raise IdempotencyConflict(field="Idempotency-Key")
        return earlier, await self.executions.first_of(earlier.id)

    async def submit_batch(
        self, bodies: list[TaskIn], principal: Principal
    ) -> tuple[list[Task], list[Execution], int]:
        tasks = []
        now = utcnow()
        for i, body in enumerate(bodies):
            if body.type is not TaskType.ONE_TIME:
                raise ValidationFailed("a batch holds one-time tasks only", field=f"tasks.{i}.type")
            task = self.build(body, principal.subject, principal.role, field_prefix=f"tasks.{i}.")
            task.run_count, task.last_run_at = 1, now
            tasks.append(task)
        await self.tasks.insert_many(tasks)
        executions = await self.executions.insert_many(
            [Execution.of(t, now, "submit", enqueued_at=now) for t in tasks]
        )
        queued = await dispatch(self.broker, self.executions, executions, stamped=now)
        return tasks, executions, queued

    # --- reading and changing ---------------------------------------------------------

    async def get(self, task_id: Oid, principal: Principal) -> Task:
        return found(await self.tasks.get(task_id, principal.scope), TaskNotFound)

    async def _to_change(self, task_id: Oid, principal: Principal, action: str) -> Task:
        """The task ``principal`` is about to change; an admin changing another's is audited."""
        task = await self.get(task_id, principal)
        await self.audit.on_others_work(principal, task.owner_id, action, ("task", str(task.id)))
        return task

    async def page(
        self,
        principal: Principal,
        window: Window,
        *,
        status: TaskStatus | None,
        type_: TaskType | None,
        kind: str | None,
        name: str | None = None,
        owner: str | None = None,
    ) -> Slice[Task]:
        if owner is not None and not principal.is_admin:
            raise ValidationFailed("only admins filter by owner", field="ownerId")
        return await self.tasks.page(
            principal.scope, window, status=status, type_=type_, kind=kind, name=name, owner=owner
        )

    async def counts(self, principal: Principal, owner: str | None) -> TaskCounts:
        if owner is not None and not principal.is_admin:
            raise ValidationFailed("only admins filter by owner", field="ownerId")
        counted = await self.tasks.counts_by_status(principal.scope, owner)
        return TaskCounts(by_status=counted, capped_at=TOTAL_CAP)

    async def change(self, task_id: Oid, patch: TaskPatch, principal: Principal) -> Task:
        """Change what the patch names; only those parts are validated again."""
        task = await self._to_change(task_id, principal, "change")
        if task.status in (TaskStatus.CANCELLED, TaskStatus.DELETED):
            raise TaskStateConflict(f"a {task.status} task cannot change")
        changes: dict[str, Any] = patch.model_dump(exclude_none=True)
        if "webhook_url" in changes:
            changes["webhook_url"] = str(changes["webhook_url"])
        if "priority" in changes:
            changes["queue"] = queue_for(changes["priority"]).value
        if {"payload", "cron", "timezone", "scheduled_at"} & changes.keys():
            current = TaskIn.model_validate(task).model_dump()
            merged = TaskIn.model_validate({**current, **patch.model_dump(exclude_none=True)})
            fresh = self.build(merged, task.owner_id, principal.role)  # 422 naming the field, as on create
            if task.type is not TaskType.ONE_TIME:
                changes["cron"] = fresh.cron
                if task.status is TaskStatus.ACTIVE:
                    changes["next_run_at"] = fresh.next_run_at
        return found(await self.tasks.update(task.id, TaskChanges(**changes)), TaskNotFound)

    async def delete(self, task_id: Oid, principal: Principal) -> None:
        task = await self._to_change(task_id, principal, "delete")
        await self._stop(task, TaskStatus.DELETED, TaskChanges(deleted_at=utcnow()))

    # --- control ----------------------------------------------------------------------

    async def run_now(self, task_id: Oid, principal: Principal) -> Execution:
        task = await self._to_change(task_id, principal, "run")
        if TaskAction.RUN not in task.actions:
            raise TaskStateConflict(f"a {task.status} task cannot run")
        kind = KINDS.get(task.kind)
        if kind is None or not kind.allows(principal.role):
            raise KindNotAllowed(f"tasks of kind {task.kind!r} need the admin role", field="kind")
        now = utcnow()
        execution = await self.executions.create(Execution.of(task, now, "manual", enqueued_at=now))
        if execution is None:  # the same millisecond twice: the first one is this run
            raise TaskStateConflict("a run was just started")
        await dispatch(self.broker, self.executions, [execution], stamped=now)
        return execution

    async def pause(self, task_id: Oid, principal: Principal) -> Task:
        task = await self._to_change(task_id, principal, "pause")
        if TaskAction.PAUSE not in task.actions:
            raise TaskStateConflict(
                f"only an active delayed or recurring task can be paused (this one is {task.status})"
            )
        return await self._set(task, TaskStatus.ACTIVE, TaskChanges(status=TaskStatus.PAUSED))

    async def resume(self, task_id: Oid, principal: Principal) -> Task:
        task = await self._to_change(task_id, principal, "resume")
        if TaskAction.RESUME not in task.actions:
            raise TaskStateConflict(f"only a paused task can be resumed (this one is {task.status})")
        reason = task_refusal(task, PrincipalState(principal.role, active=True), self.floors)
        if reason is not None and task.owner_id == principal.subject:
            raise TaskStateConflict(f"this task cannot run again: {REASONS[reason]}; change it first")
        changes = TaskChanges(status=TaskStatus.ACTIVE, paused_reason=None)
        if task.type is TaskType.RECURRING and task.cron:  # runs missed while paused are not made up
            try:
                changes.next_run_at = next_run(
                    task.cron, task.timezone, after=utcnow() - timedelta(milliseconds=1)
                )
            except BadSchedule as exc:
                raise TaskStateConflict(f"this task's schedule has no next run: {exc}") from exc
        return await self._set(task, TaskStatus.PAUSED, changes)

    async def cancel(self, task_id: Oid, principal: Principal) -> Task:
        task = await self._to_change(task_id, principal, "cancel")
        return await self._stop(task, TaskStatus.CANCELLED, TaskChanges())

    async def _set(self, task: Task, expected: TaskStatus, changes: TaskChanges) -> Task:
        updated = await self.tasks.update(task.id, changes, expect_status=expected)
        if updated is None:
            raise TaskStateConflict("the task changed meanwhile; try again")
        return updated

    async def _stop(self, task: Task, status: TaskStatus, changes: TaskChanges) -> Task:
        """No more runs; queued executions are cancelled, running ones asked to stop."""
        changes.status, changes.next_run_at = status, None
        updated = await self.tasks.update(task.id, changes)
        for execution_id in await self.executions.in_flight(task.id):
            await self.lifecycle.cancel(execution_id)
        return updated or task
