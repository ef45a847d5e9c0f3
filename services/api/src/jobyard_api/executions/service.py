"""Executions of tasks: list them by outcome, read one, download what it wrote, cancel it;
replay, discard or cancel everything a filter matches at once."""

from __future__ import annotations

import structlog
from jobyard_libs.auth import Principal
from jobyard_libs.documents import Oid
from jobyard_libs.errors import Conflict, NotFoundError, ValidationFailed, found
from jobyard_libs.listing import Slice, Window
from jobyard_libs.mongo import Database, utcnow
from jobyard_libs.retention import RetentionPolicy
from jobyard_libs.tasks.artifacts import Artifact, ArtifactRepository
from jobyard_libs.tasks.documents import Execution, Task
from jobyard_libs.tasks.kinds.webhook_callback import NAME as CALLBACK_KIND
from jobyard_libs.tasks.lifecycle import ExecutionLifecycle
from jobyard_libs.tasks.live_logs import LiveLogs
from jobyard_libs.tasks.models import ExecutionStatus
from jobyard_libs.tasks.outcomes import Outcomes
from jobyard_libs.tasks.replies import BulkAction, BulkFailure, BulkOut, ExecutionOut
from jobyard_libs.tasks.repository import (
    DeadLetterRepository,
    ExecutionFilter,
    ExecutionRepository,
    TaskRepository,
)
from jobyard_libs.tasks.settings import TaskSettings
from redis.exceptions import RedisError

from jobyard_api.audit.service import AuditService
from jobyard_api.executions.schemas import BulkIn, ExecutionFilterIn

BULK_MAX = 10_000  # executions one bulk request changes; the answer says when more match
BULK_FAILURES_SHOWN = 20
NAMED_TASKS_MAX = 1000  # tasks a search by part of their name may cover
BULK_APPLIES = {
    BulkAction.REPLAY: [ExecutionStatus.DEAD],
    BulkAction.DISCARD: [ExecutionStatus.DEAD],
    BulkAction.CANCEL: [ExecutionStatus.PENDING, ExecutionStatus.RETRYING, ExecutionStatus.PROCESSING],
}


log = structlog.get_logger(__name__)


class ExecutionNotFound(NotFoundError):
    message = "execution not found"


class NoArtifact(NotFoundError):
    message = "this execution has no artifact (or it expired)"


def execution_view(execution: Execution, viewer: Principal | None, secrets: TaskSettings) -> ExecutionOut:
    """The execution as the API shows it; a callback secret only to its owner."""
    out = ExecutionOut.model_validate(execution)
    out.payload = None  # up to JOBYARD_TASK_PAYLOAD_MAX_BYTES each: one execution's page shows it
    out.inputs = None  # a workflow step's: up to 64 KB a dependency; likewise
    out.attempt = execution.attempts - execution.attempt_base  # "attempt 1 of 3 (replay 1)"
    out.attempts_allowed = execution.max_retries + 1
    if viewer is not None and viewer.subject == execution.owner_id and execution.kind == CALLBACK_KIND:
        out.callback_secret = secrets.callback_secret(str(execution.id))
    return out


class ExecutionService:
    def __init__(
        self,
        db: Database,
        lifecycle: ExecutionLifecycle,
        outcomes: Outcomes,
        secrets: TaskSettings,
        audit: AuditService,
        kept: RetentionPolicy,
        live: LiveLogs,
    ) -> None:
        self.kept = kept
        self.audit = audit
        self.secrets = secrets
        self.outcomes = outcomes
        self.tasks = TaskRepository(db)
        self.dead_letters = DeadLetterRepository(db)
        self.executions = ExecutionRepository(db)
        self.artifacts = ArtifactRepository(db)
        self.lifecycle = lifecycle
        self.live = live

    def view(self, execution: Execution, viewer: Principal) -> ExecutionOut:
        out = execution_view(execution, viewer, self.secrets)
        kept = self.kept.execution_kept(execution.status)
        if kept is not None and execution.completed_at is not None:
            out.expires_at = execution.completed_at + kept
        return out

    async def detail(self, execution: Execution, viewer: Principal) -> ExecutionOut:
        """As :meth:`view`, with its task's name and what a running attempt has logged so far."""
        out = self.view(execution, viewer)
        out.payload, out.inputs = execution.payload, execution.inputs
        out.task_name = (await self.tasks.names([execution.task_id])).get(execution.task_id)
        if execution.status is ExecutionStatus.PROCESSING and execution.attempts:
            try:
                out.live_logs = await self.live.read(str(execution.id), execution.attempts)
            except RedisError as exc:  # the stored execution is still true; only the live lines are missing
                log.warning("live_logs_unavailable", execution_id=str(execution.id), error=str(exc))
        return out

    async def views(self, executions: list[Execution], viewer: Principal) -> list[ExecutionOut]:
        """As :meth:`view`, each with its task's name (one look-up for the page)."""
        names = await self.tasks.names(e.task_id for e in executions)
        outs = [self.view(execution, viewer) for execution in executions]
        for out, execution in zip(outs, executions, strict=True):
            out.task_name = names.get(execution.task_id)
        return outs

    async def filter_of(self, given: ExecutionFilterIn, principal: Principal) -> ExecutionFilter:
        if given.owner_id is not None and not principal.is_admin:
            raise ValidationFailed("only admins filter by owner", field="ownerId")
        task_ids = None
        if given.task_name:
            task_ids = await self.tasks.ids_named(principal.scope, given.task_name, NAMED_TASKS_MAX + 1)
            if len(task_ids) > NAMED_TASKS_MAX:  # never a silent subset: a bulk action would miss some
                raise ValidationFailed(
                    f"more than {NAMED_TASKS_MAX:,} tasks have this in their name: say more of it",
                    field="taskName",
                )
        return ExecutionFilter(
            statuses=None if given.status is None else (given.status,),
            kind=given.kind,
            task_ids=task_ids,
            owner_id=given.owner_id,
            since=given.since,
            until=given.until,
        )

    async def page(self, where: ExecutionFilter, principal: Principal, window: Window) -> Slice[Execution]:
        return await self.executions.matching(where, principal.scope, window)

    async def bulk(self, body: BulkIn, principal: Principal) -> BulkOut:
        """``body.action`` on every execution its filter matches (up to :data:`BULK_MAX`) that
        the action applies to: dead ones for replay and discard, unfinished ones for cancel."""
        where = (await self.filter_of(body.filter, principal)).only(BULK_APPLIES[body.action])
        found = await self.executions.all_matching(where, principal.scope, BULK_MAX + 1)
        capped, found = len(found) > BULK_MAX, found[:BULK_MAX]
        out = BulkOut(action=body.action, matched=len(found), capped=capped, done=0, failed=[])
        if body.dry_run or not found:
            return out
        others = sorted({e.owner_id for e in found if e.owner_id != principal.subject})
        if others:  # an admin's bulk change of other people's work: one event, naming them
            await self.audit.on_others_work(
                principal, ",".join(others)[:500], f"bulk {body.action}", ("executions", f"{len(found)}")
            )
        if body.action is BulkAction.REPLAY:
            out.done = len(await self.outcomes.replay(found))
        elif body.action is BulkAction.DISCARD:
            out.done = await self.dead_letters.delete_of([e.id for e in found])
        else:
            for execution in found:
                if await self.lifecycle.cancel(execution.id) is not None:
                    out.done += 1
                elif len(out.failed) < BULK_FAILURES_SHOWN:
                    out.failed.append(BulkFailure(id=str(execution.id), error="finished meanwhile"))
        return out

    async def get(self, execution_id: Oid, principal: Principal) -> Execution:
        return found(await self.executions.get(execution_id, principal.scope), ExecutionNotFound)

    async def of_task(self, task: Task, window: Window) -> Slice[Execution]:
        return await self.executions.page(task.id, window)

    async def artifact(self, execution_id: Oid, principal: Principal) -> Artifact:
        """The file this execution wrote, to its owner: found by the execution, never by a
        result's word (a callback's result can say anything)."""
        execution = await self.get(execution_id, principal)
        artifact = await self.artifacts.for_execution(str(execution.id), execution.owner_id, utcnow())
        return found(artifact, NoArtifact)

    async def cancel(self, execution_id: Oid, principal: Principal) -> Execution:
        execution = await self.get(execution_id, principal)
        await self.audit.on_others_work(
            principal, execution.owner_id, "cancel", ("execution", str(execution.id))
        )
        cancelled = await self.lifecycle.cancel(execution.id)
        if cancelled is None:
            raise Conflict(f"a {execution.status} execution cannot be cancelled")
        return cancelled
