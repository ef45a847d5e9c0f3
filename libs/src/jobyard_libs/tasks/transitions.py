"""An execution's status changes, as conditional updates on the ``executions`` collection.

Only :mod:`jobyard_libs.tasks.lifecycle` may use this module (an import-linter contract):
every change must also be told to the world (live events, stats, webhooks), and the
lifecycle is the one place that does both. Each change is guarded by the state it
expects, so two workers, a worker and the api, or a redelivered message never both win.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId

from jobyard_libs.mongo import Database, Document, update_by_id, utcnow
from jobyard_libs.tasks.documents import Execution
from jobyard_libs.tasks.models import ExecutionStatus
from jobyard_libs.tasks.repository import EXECUTIONS

WAITING = [ExecutionStatus.PENDING.value, ExecutionStatus.RETRYING.value]


class ExecutionTransitions:
    def __init__(self, db: Database) -> None:
        self.collection = db[EXECUTIONS]

    async def _update(
        self, execution_id: ObjectId, update: Document | list[Document], expect: Document
    ) -> Execution | None:
        return Execution.from_mongo(await update_by_id(self.collection, execution_id, update, expect=expect))

    async def start_attempt(self, execution_id: ObjectId) -> Execution | None:
        """pending/retrying → processing with one more attempt; ``None`` if it must not run."""
        now = utcnow()
        # an update pipeline: startedAt is set once, whether stored null or absent
        # ($min would keep a null, which sorts before every date)
        pipeline = [
            {
                "$set": {
                    "status": ExecutionStatus.PROCESSING.value,
                    "updatedAt": now,
                    "lastAttemptAt": now,
                    "startedAt": {"$ifNull": ["$startedAt", now]},
                    "attempts": {"$add": ["$attempts", 1]},
                }
            }
        ]
        return await self._update(
            execution_id, pipeline, {"status": {"$in": WAITING}, "cancelRequested": False}
        )

    async def finish_attempt(
        self,
        execution_id: ObjectId,
        *,
        attempt: int,
        status: ExecutionStatus,
        started_at: datetime,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> Execution | None:
        now = utcnow()
        fields: Document = {
            "status": status.value,
            "updatedAt": now,
            "error": error,
            "retryAt": retry_at,
            "awaitingCallback": False,
            "callbackDeadline": None,
        }
        if status is not ExecutionStatus.RETRYING:  # finished
            fields.update(
                completedAt=now, durationMs=int((now - started_at).total_seconds() * 1000), result=result
            )
        entry = {
            "attempt": attempt,
            "startedAt": started_at,
            "finishedAt": now,
            "status": status.value,
            "error": error,
        }
        return await self._update(
            execution_id,
            {"$set": fields, "$push": {"attemptHistory": entry}},
            {"status": ExecutionStatus.PROCESSING.value, "attempts": attempt},
        )

    async def await_callback(
        self, execution_id: ObjectId, *, attempt: int, deadline: datetime
    ) -> Execution | None:
        """The attempt goes on outside the worker until a callback or ``deadline``."""
        return await self._update(
            execution_id,
            {"$set": {"awaitingCallback": True, "callbackDeadline": deadline, "updatedAt": utcnow()}},
            {"status": ExecutionStatus.PROCESSING.value, "attempts": attempt},
        )

    async def cancel(self, execution_id: ObjectId) -> Execution | None:
        """Cancel queued or callback-waiting work at once; running work is asked to stop."""
        now = utcnow()
        done = {"status": ExecutionStatus.CANCELLED.value, "cancelRequested": True, "completedAt": now,
                "updatedAt": now, "awaitingCallback": False}  # fmt: skip
        queued = {"status": {"$in": WAITING}}
        waiting = {"status": ExecutionStatus.PROCESSING.value, "awaitingCallback": True}
        for idle in (queued, waiting):
            stopped = await self._update(execution_id, {"$set": done}, idle)
            if stopped is not None:
                return stopped
        return await self._update(
            execution_id,
            {"$set": {"cancelRequested": True, "updatedAt": now}},
            {"status": ExecutionStatus.PROCESSING.value},
        )

    async def reset_for_replay(self, dead: Execution) -> Execution | None:
        """dead → pending with a fresh retry budget; attempt numbers go on counting."""
        now = utcnow()
        fields = {
            "status": ExecutionStatus.PENDING.value,
            "attemptBase": dead.attempts,
            "enqueuedAt": None,
            "error": None,
            "completedAt": None,
            "durationMs": None,
            "updatedAt": now,
            "replayedAt": now,
        }
        return await self._update(
            dead.id,
            {"$set": fields, "$inc": {"replays": 1}},
            {"status": ExecutionStatus.DEAD.value, "attempts": dead.attempts},
        )
