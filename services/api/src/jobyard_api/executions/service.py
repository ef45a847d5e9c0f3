"""Executions of tasks, and the dead letters of those that exhausted their retries."""

from __future__ import annotations

from dramatiq import Broker
from jobyard_libs.auth import Principal
from jobyard_libs.errors import Conflict, NotFoundError
from jobyard_libs.mongo import Database, Document, utcnow
from jobyard_libs.tasks.artifacts import Artifact, ArtifactRepository
from jobyard_libs.tasks.dispatch import dispatch
from jobyard_libs.tasks.kinds.webhook_callback import NAME as CALLBACK_KIND
from jobyard_libs.tasks.repository import DeadLetterRepository, ExecutionRepository, Notify
from jobyard_libs.tasks.settings import TaskSettings

from jobyard_api.executions.schemas import Attempt, DeadLetterOut, ExecutionOut
from jobyard_api.ids import object_id


class ExecutionNotFound(NotFoundError):
    message = "execution not found"


class DeadLetterNotFound(NotFoundError):
    message = "dead letter not found"


def to_out(
    doc: Document, viewer: Principal | None = None, secrets: TaskSettings | None = None
) -> ExecutionOut:
    """The execution as the API shows it; a callback secret only to its owner."""
    secret = None
    if (
        viewer is not None
        and secrets is not None
        and viewer.subject == doc["ownerId"]
        and doc["kind"] == CALLBACK_KIND
    ):
        secret = secrets.callback_secret(str(doc["_id"]))
    return ExecutionOut(
        callback_secret=secret,
        id=str(doc["_id"]),
        task_id=str(doc["taskId"]),
        kind=doc["kind"],
        queue=doc["queue"],
        trigger=doc["trigger"],
        status=doc["status"],
        scheduled_for=doc["scheduledFor"],
        attempts=doc["attempts"],
        max_retries=doc["maxRetries"],
        replays=doc.get("replays", 0),
        attempt_history=[Attempt.model_validate(a) for a in doc.get("attemptHistory", [])],
        enqueued_at=doc.get("enqueuedAt"),
        started_at=doc.get("startedAt"),
        completed_at=doc.get("completedAt"),
        duration_ms=doc.get("durationMs"),
        retry_at=doc.get("retryAt"),
        result=doc.get("result"),
        error=doc.get("error"),
        cancel_requested=doc.get("cancelRequested", False),
        awaiting_callback=doc.get("awaitingCallback", False),
        callback_deadline=doc.get("callbackDeadline"),
        created_at=doc["createdAt"],
    )


def dead_letter_out(doc: Document) -> DeadLetterOut:
    return DeadLetterOut(
        id=str(doc["_id"]),
        execution_id=str(doc["executionId"]),
        task_id=str(doc["taskId"]),
        kind=doc["kind"],
        queue=doc["queue"],
        payload=doc["payload"],
        attempts=doc["attempts"],
        error=doc["error"],
        created_at=doc["createdAt"],
    )


class ExecutionService:
    def __init__(
        self, db: Database, broker: Broker, secrets: TaskSettings, notify: Notify | None = None
    ) -> None:
        self.secrets = secrets
        self.executions = ExecutionRepository(db, notify)
        self.artifacts = ArtifactRepository(db)
        self.dead_letters = DeadLetterRepository(db)
        self.broker = broker

    @staticmethod
    def _owner(principal: Principal) -> str | None:
        return None if principal.is_admin else principal.subject

    async def get(self, execution_id: str, principal: Principal) -> Document:
        oid = object_id(execution_id)
        doc = await self.executions.get(oid, self._owner(principal)) if oid else None
        if doc is None:
            raise ExecutionNotFound()
        return doc

    async def of_task(self, task: Document, skip: int, limit: int) -> tuple[list[Document], int]:
        return await self.executions.page(task["_id"], skip, limit)

    def view(self, doc: Document, viewer: Principal) -> ExecutionOut:
        return to_out(doc, viewer, self.secrets)

    async def artifact(self, execution_id: str, principal: Principal) -> Artifact:
        """The file this execution wrote, to its owner: found by the execution, never by a
        result's word (a callback's result can say anything)."""
        doc = await self.get(execution_id, principal)
        artifact = await self.artifacts.for_execution(str(doc["_id"]), doc["ownerId"], utcnow())
        if artifact is None:
            raise NotFoundError("this execution has no artifact (or it expired)")
        return artifact

    async def cancel(self, execution_id: str, principal: Principal) -> Document:
        doc = await self.get(execution_id, principal)
        cancelled = await self.executions.cancel(doc["_id"])
        if cancelled is None:
            raise Conflict(f"a {doc['status']} execution cannot be cancelled", field=None)
        return cancelled

    async def dead_letter_page(
        self, principal: Principal, skip: int, limit: int
    ) -> tuple[list[Document], int]:
        return await self.dead_letters.page(self._owner(principal), skip, limit)

    async def _dead_letter(self, dead_id: str, principal: Principal) -> Document:
        oid = object_id(dead_id)
        doc = await self.dead_letters.get(oid, self._owner(principal)) if oid else None
        if doc is None:
            raise DeadLetterNotFound()
        return doc

    async def replay(self, dead_id: str, principal: Principal) -> Document:
        """Run the dead execution again from its first attempt; the dead letter is spent."""
        dead = await self._dead_letter(dead_id, principal)
        execution = await self.executions.reset_for_replay(dead["executionId"])
        if execution is None:
            raise Conflict("its execution is no longer dead (replayed already?)")
        await self.dead_letters.delete(dead["_id"])
        await dispatch(self.broker, self.executions, [execution])
        return execution

    async def discard(self, dead_id: str, principal: Principal) -> None:
        dead = await self._dead_letter(dead_id, principal)
        await self.dead_letters.delete(dead["_id"])
