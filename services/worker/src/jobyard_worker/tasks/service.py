"""Run one attempt of an execution: time limit, cancel, retries with backoff, dead letters.

Every state change is written to the execution before anything else happens, so its
record always says what the task is doing. A failed attempt is retried after an
exponential backoff with jitter while attempts remain (``maxRetries``); then the
execution is ``dead`` and a dead letter is recorded, from which it can be replayed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from bson import ObjectId
from dramatiq import Broker
from jobyard_libs.mongo import Document, utcnow
from jobyard_libs.tasks.dispatch import dispatch
from jobyard_libs.tasks.kinds import KINDS, KindContext
from jobyard_libs.tasks.kinds.webhook_callback import AwaitCallback
from jobyard_libs.tasks.models import ExecutionStatus
from jobyard_libs.tasks.outcomes import settle_failure
from jobyard_libs.tasks.repository import DeadLetterRepository, ExecutionRepository
from pydantic import ValidationError

from jobyard_worker.settings import WorkerSettings

log = structlog.get_logger(__name__)
STALE_GRACE = timedelta(seconds=60)


class AttemptTimedOut(Exception):
    pass


class AttemptCancelled(Exception):
    pass


@dataclass
class Executor:
    executions: ExecutionRepository
    dead_letters: DeadLetterRepository
    broker: Broker
    settings: WorkerSettings
    resources: Any

    async def execute(self, execution_id: ObjectId) -> ExecutionStatus | None:
        doc = await self.executions.start_attempt(execution_id)
        if doc is None:
            await self._not_started(execution_id)
            return None
        attempt, started = doc["attempts"], doc["lastAttemptAt"]
        bound = log.bind(execution_id=str(execution_id), kind=doc["kind"], attempt=attempt)
        try:
            result = await self._run(doc, attempt)
        except AwaitCallback as waiting:
            deadline = utcnow() + timedelta(milliseconds=waiting.timeout_ms)
            await self.executions.await_callback(execution_id, attempt=attempt, deadline=deadline)
            bound.info("execution_awaiting_callback", deadline=deadline.isoformat())
            return ExecutionStatus.PROCESSING
        except AttemptCancelled:
            await self.executions.finish_attempt(
                execution_id,
                attempt=attempt,
                status=ExecutionStatus.CANCELLED,
                started_at=started,
                error="cancelled",
            )
            bound.info("execution_cancelled")
            return ExecutionStatus.CANCELLED
        except Exception as exc:  # any failure of the task's own code is the task's outcome
            return await self._failed(doc, attempt, started, f"{type(exc).__name__}: {exc}"[:1000], bound)
        await self.executions.finish_attempt(
            execution_id, attempt=attempt, status=ExecutionStatus.COMPLETED, started_at=started, result=result
        )
        bound.info("execution_completed")
        return ExecutionStatus.COMPLETED

    async def _run(self, doc: Document, attempt: int) -> dict[str, Any]:
        kind = KINDS.get(doc["kind"])
        if kind is None:
            raise LookupError(f"unknown kind {doc['kind']!r}")
        try:
            payload = kind.payload.model_validate(doc["payload"])
        except ValidationError as exc:
            raise ValueError(f"invalid payload: {exc.errors()[0]['msg']}") from exc
        context = KindContext(
            str(doc["_id"]), doc["ownerId"], attempt, self.resources, self.settings, self.broker
        )
        work = asyncio.ensure_future(kind.run(context, payload))
        watch = asyncio.ensure_future(self._watch_cancel(doc["_id"]))
        try:
            done, _ = await asyncio.wait(
                {work, watch}, timeout=doc["timeoutMs"] / 1000, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (work, watch):
                if not task.done():
                    task.cancel()
            await asyncio.gather(work, watch, return_exceptions=True)
        if work in done:
            return work.result()
        if watch in done:
            raise AttemptCancelled()
        raise AttemptTimedOut(f"timed out after {doc['timeoutMs']} ms")

    async def _watch_cancel(self, execution_id: ObjectId) -> None:
        # The cancel comes from another process (the api), through the execution record. A
        # cancel stored before the attempt began kept it from starting: first look one poll in.
        while True:
            await asyncio.sleep(self.settings.task_cancel_poll_seconds)
            if await self.executions.cancel_requested(execution_id):
                return

    async def _failed(
        self, doc: Document, attempt: int, started: Any, error: str, bound: Any
    ) -> ExecutionStatus:
        bound.info("attempt_failed", error=error)
        return await settle_failure(
            self.executions,
            self.dead_letters,
            self.broker,
            self.settings,
            doc,
            attempt=attempt,
            started=started,
            error=error,
        )

    async def _not_started(self, execution_id: ObjectId) -> None:
        """Cancelled, finished, or still running elsewhere: decide what this delivery means."""
        doc = await self.executions.get(execution_id)
        if doc is None or doc["status"] != ExecutionStatus.PROCESSING.value:
            return None  # cancelled or finished: nothing to do
        stale_at = doc["lastAttemptAt"] + timedelta(milliseconds=doc["timeoutMs"]) + STALE_GRACE
        if utcnow() >= stale_at:  # its worker died mid-attempt: take the execution over
            await self.executions.collection.update_one(
                {
                    "_id": execution_id,
                    "status": ExecutionStatus.PROCESSING.value,
                    "attempts": doc["attempts"],
                },
                {
                    "$set": {
                        "status": ExecutionStatus.RETRYING.value,
                        "error": "the worker running it stopped",
                    }
                },
            )
            await self.execute(execution_id)
            return None
        # A redelivery while the attempt may still run: look again when it must have ended.
        delay = int((stale_at - utcnow()).total_seconds() * 1000) + 1
        await dispatch(self.broker, self.executions, [doc], delay_ms=delay)
        return None
