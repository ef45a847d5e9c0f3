"""An execution's status changes, as conditional updates on the ``executions`` collection.

Only :mod:`jobyard_libs.tasks.lifecycle` may use this module (an import-linter contract):
every change must also be told to the world (live events, stats, webhooks), and the
lifecycle is the one place that does both. Each change is guarded by the state it
expects, so two workers, a worker and the api, or a redelivered message never both win.

The hot path costs few round trips: claims of many executions are one ``update_many``
(tagged with a claim token) and one ``find`` of what that token won, or, for a worker that
claims in Redis, one ``find`` of what may run (:meth:`claimable`), the attempt then written
by :meth:`confirm` if it runs long, else with its end; the ends of many attempts are one
unordered ``bulk_write``, and their post-images are built here from the claimed document,
not read back (a read happens only when some update did not match).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import UpdateOne

from jobyard_libs.mongo import Database, Document, update_by_id, utcnow
from jobyard_libs.tasks.documents import Attempt, Execution
from jobyard_libs.tasks.models import ExecutionStatus
from jobyard_libs.tasks.repository import EXECUTIONS, WAITING


@dataclass(frozen=True)
class AttemptEnd:
    """How one attempt of ``execution`` (as its claim left it) ended."""

    execution: Execution
    status: ExecutionStatus
    result: dict[str, Any] | None = None
    error: str | None = None
    retry_at: datetime | None = None
    enqueued_at: datetime | None = None  # a retry's message stamp, written with the retry itself
    traceback: str | None = None
    logs: tuple[str, ...] = ()


class ExecutionTransitions:
    def __init__(self, db: Database) -> None:
        self.collection = db[EXECUTIONS]

    async def _update(
        self, execution_id: ObjectId, update: Document | list[Document], expect: Document
    ) -> Execution | None:
        return Execution.from_mongo(await update_by_id(self.collection, execution_id, update, expect=expect))

    async def start_attempts(
        self, execution_ids: list[ObjectId], *, holder: str | None = None
    ) -> dict[ObjectId, Execution]:
        """pending/retrying → processing with one more attempt, for each that may run now,
        held by ``holder`` (the claiming worker process's broker id).

        Two commands however many: an ``update_many`` that tags what it claims with a fresh
        token, and a ``find`` of that token. What is missing from the answer must not run
        (cancelled, finished, or claimed by another delivery). The token also fences the
        attempt's end: once the attempt is taken over, its first holder cannot end it.
        """
        now, token = utcnow(), ObjectId()
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
                    "claim": token,
                    "holder": holder,
                }
            }
        ]
        ids = list(dict.fromkeys(execution_ids))
        query = {"_id": {"$in": ids}, "status": {"$in": WAITING}, "cancelRequested": False}
        result = await self.collection.update_many(query, pipeline)
        if result.modified_count == 0:
            return {}
        claimed = Execution.many(await self.collection.find({"_id": {"$in": ids}, "claim": token}).to_list())
        return {execution.id: execution for execution in claimed}

    async def claimable(self, execution_ids: list[ObjectId]) -> list[Execution]:
        """Those of ``execution_ids`` that may start an attempt now (one read): waiting, and
        no cancel asked. Claiming them is the caller's (:mod:`jobyard_libs.tasks.claims`)."""
        ids = list(dict.fromkeys(execution_ids))
        # by _id alone, filtered here: given the status too, secantusd-rs walks the status
        # index (every waiting execution: 4-9 ms a group at 1,000 queued, against 0.3)
        found = Execution.many(await self.collection.find({"_id": {"$in": ids}}).to_list())
        return [e for e in found if e.status.value in WAITING and not e.cancel_requested]

    async def confirm(self, claimed: Execution) -> Execution | None:
        """Write an attempt held by its Redis claim alone: ``processing`` from now on, as if
        claimed in MongoDB; ``None`` if the record moved meanwhile (cancelled)."""
        update = {"$set": _attempt_fields(claimed)}
        return await self._update(claimed.id, update, _unstored_guard(claimed))

    async def finish_attempts(self, ends: list[AttemptEnd]) -> list[Execution | None]:
        """Record how each attempt ended (one command); each one's post-image, or ``None``
        where the execution was no longer in that attempt (cancelled or taken over). An
        attempt held by its Redis claim alone is written with its end, in the same update."""
        now = utcnow()
        operations, images = [], []
        for end in ends:
            update, image = _ended(end, now)
            claimed = end.execution
            if claimed.claim_stored:
                guard = {
                    "_id": claimed.id,
                    "status": ExecutionStatus.PROCESSING.value,
                    "attempts": claimed.attempts,
                    "claim": claimed.claim,
                }
            else:
                guard = _unstored_guard(claimed)
                update["$set"] = {**_attempt_fields(claimed), **update["$set"]}
            operations.append(UpdateOne(guard, update))
            images.append(image)
        if not operations:
            return []
        result = await self.collection.bulk_write(operations, ordered=False)
        if result.modified_count == len(operations):
            return list(images)
        # Some did not match: tell which by our entry in their history (its finishedAt is ours).
        ids = [image.id for image in images]
        now_stored = {
            e.id: e for e in Execution.many(await self.collection.find({"_id": {"$in": ids}}).to_list())
        }
        return [image if _recorded(now_stored.get(image.id), image, now) else None for image in images]

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
        done = {
            "status": ExecutionStatus.CANCELLED.value,
            "cancelRequested": True,
            "completedAt": now,
            "updatedAt": now,
            "awaitingCallback": False,
        }
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

    async def reset_for_replay(self, dead: Execution, *, enqueued_at: datetime) -> Execution | None:
        """dead → pending with a fresh retry budget; attempt numbers go on counting.
        ``enqueued_at``: the stamp of the message that will queue it again."""
        now = utcnow()
        fields = {
            "status": ExecutionStatus.PENDING.value,
            "attemptBase": dead.attempts,
            "enqueuedAt": enqueued_at,
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


def _unstored_guard(claimed: Execution) -> Document:
    """The record as it was when the attempt was claimed in Redis: the attempt before."""
    return {
        "_id": claimed.id,
        "status": {"$in": WAITING},
        "attempts": claimed.attempts - 1,
        "cancelRequested": False,
    }


def _attempt_fields(claimed: Execution) -> Document:
    """What a claim in MongoDB writes: the attempt, when it began, and who holds it."""
    return {
        "status": ExecutionStatus.PROCESSING.value,
        "attempts": claimed.attempts,
        "lastAttemptAt": claimed.last_attempt_at,
        "startedAt": claimed.started_at,
        "updatedAt": claimed.updated_at,
        "claim": claimed.claim,
        "holder": claimed.holder,
    }


def _ended(end: AttemptEnd, now: datetime) -> tuple[Document, Execution]:
    """The update that records ``end``, and the document as it will be after it."""
    execution = end.execution
    started = execution.last_attempt_at or now
    changes: dict[str, Any] = {
        "status": end.status,
        "updated_at": now,
        "error": end.error,
        "retry_at": end.retry_at,
        "awaiting_callback": False,
        "callback_deadline": None,
    }
    if end.status is not ExecutionStatus.RETRYING:  # finished
        changes.update(
            completed_at=now, duration_ms=int((now - started).total_seconds() * 1000), result=end.result
        )
    if end.enqueued_at is not None:
        changes["enqueued_at"] = end.enqueued_at
    entry = Attempt(
        attempt=execution.attempts,
        started_at=started,
        finished_at=now,
        status=end.status.value,
        error=end.error,
        traceback=end.traceback,
        logs=list(end.logs),
    )
    history = [*execution.attempt_history, entry]
    image = execution.model_copy(update={**changes, "attempt_history": history, "claim_stored": True})
    stored = {Execution.model_fields[name].alias or name: value for name, value in changes.items()}
    stored["status"] = end.status.value
    update = {"$set": stored, "$push": {"attemptHistory": entry.model_dump(by_alias=True)}}
    return update, image


def _recorded(stored: Execution | None, image: Execution, finished_at: datetime) -> bool:
    if stored is None:
        return False
    ours = image.attempt_history[-1]
    return any(a.attempt == ours.attempt and a.finished_at == finished_at for a in stored.attempt_history)
