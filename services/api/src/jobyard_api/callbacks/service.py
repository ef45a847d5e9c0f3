"""Callbacks: an external system reports the outcome of a ``webhook-callback`` execution.

Each execution has its own callback secret (derived from the server's master secret and
the execution id; shown only to the task's owner and sent to its ``notifyUrl``), so one
tenant cannot settle or forge another's execution.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from bson import ObjectId
from dramatiq import Broker
from jobyard_libs.errors import Conflict, NotFoundError, ValidationFailed
from jobyard_libs.mongo import Database, Document
from jobyard_libs.signing import require_fresh, verify
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

    @staticmethod
    def precheck(headers: Mapping[str, str]) -> None:
        """Before the body is read: an unsigned or stale request goes no further (401)."""
        require_fresh(headers)

    async def receive(self, execution_id: str, body: bytes, headers: Mapping[str, str]) -> Document:
        """Verify with this execution's own secret first: a bad signature changes nothing (401)."""
        verify(body, headers, secret=self.settings.callback_secret(execution_id))
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
