"""Callbacks: an external system reports the outcome of a ``webhook-callback`` execution."""

from __future__ import annotations

import json

from bson import ObjectId
from dramatiq import Broker
from jobyard_libs.errors import Conflict, NotFoundError, ValidationFailed
from jobyard_libs.mongo import Database, Document
from jobyard_libs.signing import verify
from jobyard_libs.tasks.models import ExecutionStatus
from jobyard_libs.tasks.outcomes import settle_failure
from jobyard_libs.tasks.repository import DeadLetterRepository, ExecutionRepository, Notify
from jobyard_libs.tasks.settings import TaskSettings
from pydantic import ValidationError

from jobyard_api.callbacks.schemas import CallbackIn
from jobyard_api.ids import object_id


class ExecutionNotFound(NotFoundError):
    message = "execution not found"


class NotAwaitingCallback(Conflict):
    code, message = "not_awaiting_callback", "this execution is not waiting for a callback"


class CallbackService:
    def __init__(
        self, db: Database, broker: Broker, settings: TaskSettings, notify: Notify | None = None
    ) -> None:
        self.executions = ExecutionRepository(db, notify)
        self.dead_letters = DeadLetterRepository(db)
        self.broker = broker
        self.settings = settings

    async def receive(self, execution_id: str, body: bytes, headers: dict[str, str]) -> Document:
        """Verify first: an unsigned or badly signed callback changes nothing (401)."""
        verify(body, headers, secret=self.settings.webhook_secret.get_secret_value())
        try:
            report = CallbackIn.model_validate(json.loads(body or b"null"))
        except (ValueError, ValidationError) as exc:
            raise ValidationFailed(
                f"the callback body is not a valid report: {exc}"[:300], field="status"
            ) from exc
        oid = object_id(execution_id)
        doc = await self.executions.get(oid) if oid else None
        if doc is None:
            raise ExecutionNotFound()
        if doc["status"] != ExecutionStatus.PROCESSING or not doc.get("awaitingCallback"):
            raise NotAwaitingCallback()
        return await self._settle(doc["_id"], doc, report)

    async def _settle(self, oid: ObjectId, doc: Document, report: CallbackIn) -> Document:
        attempt, started = doc["attempts"], doc["lastAttemptAt"]
        if report.status == "completed":
            settled = await self.executions.finish_attempt(
                oid,
                attempt=attempt,
                status=ExecutionStatus.COMPLETED,
                started_at=started,
                result=report.result or {},
            )
        else:
            await settle_failure(
                self.executions, self.dead_letters, self.broker, self.settings, doc, attempt=attempt,
                started=started, error=f"callback reported failure: {report.error or 'no reason given'}",
            )  # fmt: skip
            settled = await self.executions.get(oid)
        if settled is None:
            raise NotAwaitingCallback()
        return settled
