"""Executions of tasks: read one, download what it wrote, cancel it."""

from __future__ import annotations

from jobyard_libs.auth import Principal
from jobyard_libs.documents import Oid
from jobyard_libs.errors import Conflict, NotFoundError, found
from jobyard_libs.listing import Slice, Window
from jobyard_libs.mongo import Database, utcnow
from jobyard_libs.retention import RetentionPolicy
from jobyard_libs.tasks.artifacts import Artifact, ArtifactRepository
from jobyard_libs.tasks.documents import Execution, Task
from jobyard_libs.tasks.kinds.webhook_callback import NAME as CALLBACK_KIND
from jobyard_libs.tasks.lifecycle import ExecutionLifecycle
from jobyard_libs.tasks.repository import ExecutionRepository
from jobyard_libs.tasks.settings import TaskSettings

from jobyard_api.audit.service import AuditService
from jobyard_api.executions.schemas import ExecutionOut


class ExecutionNotFound(NotFoundError):
    message = "execution not found"


class NoArtifact(NotFoundError):
    message = "this execution has no artifact (or it expired)"


def execution_view(execution: Execution, viewer: Principal | None, secrets: TaskSettings) -> ExecutionOut:
    """The execution as the API shows it; a callback secret only to its owner."""
    out = ExecutionOut.model_validate(execution)
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
        secrets: TaskSettings,
        audit: AuditService,
        kept: RetentionPolicy,
    ) -> None:
        self.kept = kept
        self.audit = audit
        self.secrets = secrets
        self.executions = ExecutionRepository(db)
        self.artifacts = ArtifactRepository(db)
        self.lifecycle = lifecycle

    def view(self, execution: Execution, viewer: Principal) -> ExecutionOut:
        out = execution_view(execution, viewer, self.secrets)
        kept = self.kept.execution_kept(execution.status)
        if kept is not None and execution.completed_at is not None:
            out.expires_at = execution.completed_at + kept
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
