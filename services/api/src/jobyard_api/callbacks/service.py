"""Callbacks: an external system reports the outcome of a ``webhook-callback`` execution.

Each execution has its own callback secret (derived from the server's master secret and
the execution id; shown only to the task's owner and sent to its ``notifyUrl``), so one
tenant cannot settle or forge another's execution.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from jobyard_libs.documents import Oid
from jobyard_libs.errors import Conflict, ValidationFailed, found
from jobyard_libs.mongo import Database
from jobyard_libs.signing import require_fresh, verify
from jobyard_libs.tasks.documents import Execution
from jobyard_libs.tasks.models import ExecutionStatus
from jobyard_libs.tasks.outcomes import Outcomes
from jobyard_libs.tasks.repository import ANY_OWNER, ExecutionRepository
from pydantic import ValidationError

from jobyard_api.callbacks.schemas import CallbackIn
from jobyard_api.executions.service import ExecutionNotFound


class NotAwaitingCallback(Conflict):
    code, message = "not_awaiting_callback", "this execution is not waiting for a callback"


class CallbackService:
    def __init__(self, db: Database, outcomes: Outcomes) -> None:
        self.executions = ExecutionRepository(db)
        self.outcomes = outcomes

    @staticmethod
    def precheck(headers: Mapping[str, str]) -> None:
        """Before the body is read: an unsigned or stale request goes no further (401)."""
        require_fresh(headers)

    async def receive(self, execution_id: Oid, body: bytes, headers: Mapping[str, str]) -> Execution:
        """Verify with this execution's own secret first: a bad signature changes nothing (401)."""
        verify(body, headers, secret=self.outcomes.settings.callback_secret(str(execution_id)))
        try:
            report = CallbackIn.model_validate(json.loads(body or b"null"))
        except (ValueError, ValidationError) as exc:
            raise ValidationFailed(
                f"the callback body is not a valid report: {exc}"[:300], field="status"
            ) from exc
        execution = found(
            await self.executions.get(execution_id, ANY_OWNER), ExecutionNotFound
        )  # signed, not owned
        if (
            execution.status is not ExecutionStatus.PROCESSING
            or not execution.awaiting_callback
            or execution.last_attempt_at is None
        ):
            raise NotAwaitingCallback()
        return await self._settle(execution, report)

    async def _settle(self, execution: Execution, report: CallbackIn) -> Execution:
        if report.status == "completed":
            settled = await self.outcomes.lifecycle.finish_attempt(
                execution, status=ExecutionStatus.COMPLETED, result=report.result or {}
            )
        else:
            error = f"callback reported failure: {report.error or 'no reason given'}"
            await self.outcomes.failed(execution, error=error)
            settled = await self.executions.get(execution.id, ANY_OWNER)
        return found(settled, NotAwaitingCallback)
