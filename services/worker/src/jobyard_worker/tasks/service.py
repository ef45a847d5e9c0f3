"""Run one attempt of an execution: time limit, cancel, retries with backoff, dead letters.

Every state change is written to the execution before anything else happens, so its
record always says what the task is doing. A failed attempt is retried after an
exponential backoff with jitter while attempts remain (``maxRetries``); then the
execution is ``dead`` and a dead letter is recorded, from which it can be replayed.

An attempt whose worker died (killed, out of memory) counts as a failed attempt when it is
taken over: a task that crashes the worker every time ends dead after ``maxRetries``, it
does not run forever. A task whose kind its owner may no longer submit (a demoted admin's
``import-feeds``) goes dead at once, without running.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from bson import ObjectId
from dramatiq import Broker
from jobyard_libs.auth import Role
from jobyard_libs.egress import EgressGuard
from jobyard_libs.mongo import Database, Document, utcnow
from jobyard_libs.principals import DirectoryUnavailable, PrincipalDirectory
from jobyard_libs.tasks.dispatch import dispatch
from jobyard_libs.tasks.kinds import KINDS
from jobyard_libs.tasks.models import ExecutionStatus
from jobyard_libs.tasks.outcomes import settle_failure
from jobyard_libs.tasks.repository import DeadLetterRepository, ExecutionRepository
from pydantic import ValidationError

from jobyard_worker.settings import WorkerSettings
from jobyard_worker.tasks.kinds import RUNNERS, KindContext
from jobyard_worker.tasks.kinds.webhook_callback import AwaitCallback

log = structlog.get_logger(__name__)


class AttemptTimedOut(Exception):
    pass


class AttemptCancelled(Exception):
    pass


class NotPermitted(Exception):
    """The owner may not run this kind (any more): no retry would change that."""


@dataclass
class Executor:
    executions: ExecutionRepository
    dead_letters: DeadLetterRepository
    broker: Broker
    settings: WorkerSettings
    db: Database
    guard: EgressGuard
    rights: PrincipalDirectory

    async def execute(self, execution_id: ObjectId) -> ExecutionStatus | None:
        doc = await self.executions.start_attempt(execution_id)
        if doc is None:
            await self._not_started(execution_id)
            return None
        attempt, started = doc["attempts"], doc["lastAttemptAt"]
        bound = log.bind(execution_id=str(execution_id), kind=doc["kind"], attempt=attempt)
        try:
            await self._check_permitted(doc)
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
        except NotPermitted as refused:
            return await self._dead_at_once(doc, attempt, started, str(refused), bound)
        except Exception as exc:  # any failure of the task's own code is the task's outcome
            return await self._failed(doc, attempt, started, f"{type(exc).__name__}: {exc}"[:1000], bound)
        await self.executions.finish_attempt(
            execution_id, attempt=attempt, status=ExecutionStatus.COMPLETED, started_at=started, result=result
        )
        bound.info("execution_completed")
        return ExecutionStatus.COMPLETED

    async def _check_permitted(self, doc: Document) -> None:
        kind = KINDS.get(doc["kind"])
        if kind is None or kind.roles == frozenset(Role):
            return
        try:
            state = await self.rights.state(doc["ownerId"])
        except DirectoryUnavailable as exc:
            raise RuntimeError("cannot confirm the owner's role right now") from exc  # retried
        if state is None or not state.active or not kind.allows(state.role):
            raise NotPermitted(
                f"the task's owner may not run {doc['kind']!r} tasks (role or account changed)"
            )

    async def _run(self, doc: Document, attempt: int) -> dict[str, Any]:
        kind, runner = KINDS.get(doc["kind"]), RUNNERS.get(doc["kind"])
        if kind is None or runner is None:
            raise LookupError(f"unknown kind {doc['kind']!r}")
        try:
            payload = kind.payload.model_validate(doc["payload"])
        except ValidationError as exc:
            raise ValueError(f"invalid payload: {exc.errors()[0]['msg']}") from exc
        context = KindContext(
            execution_id=str(doc["_id"]),
            task_id=str(doc["taskId"]),
            owner_id=doc["ownerId"],
            attempt=attempt,
            db=self.db,
            broker=self.broker,
            settings=self.settings,
            guard=self.guard,
        )
        work = asyncio.ensure_future(runner(context, payload))
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
        self, doc: Document, attempt: int, started: datetime, error: str, bound: Any
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

    async def _dead_at_once(
        self, doc: Document, attempt: int, started: datetime, error: str, bound: Any
    ) -> ExecutionStatus:
        bound.warning("execution_not_permitted", error=error)
        final = await self.executions.finish_attempt(
            doc["_id"], attempt=attempt, status=ExecutionStatus.DEAD, started_at=started, error=error
        )
        await self.dead_letters.record(final or doc, error)
        return ExecutionStatus.DEAD

    async def _not_started(self, execution_id: ObjectId) -> None:
        """Cancelled, finished, or still running elsewhere: decide what this delivery means."""
        doc = await self.executions.get(execution_id)
        if doc is None or doc["status"] != ExecutionStatus.PROCESSING.value or doc.get("awaitingCallback"):
            return None  # cancelled, finished, or waiting for its callback: nothing to do
        grace = timedelta(seconds=self.settings.task_stale_grace_seconds)
        stale_at = doc["lastAttemptAt"] + timedelta(milliseconds=doc["timeoutMs"]) + grace
        if utcnow() >= stale_at:
            # Its worker died mid-attempt: that attempt failed (it counts against maxRetries,
            # so a task that kills its worker every time ends dead), then retry or dead letter.
            await self._failed(
                doc, doc["attempts"], doc["lastAttemptAt"], "the worker running this attempt stopped",
                log.bind(execution_id=str(execution_id), kind=doc["kind"], attempt=doc["attempts"]),
            )  # fmt: skip
            return None
        # A redelivery while the attempt may still run: look again when it must have ended.
        delay = int((stale_at - utcnow()).total_seconds() * 1000) + 1
        await dispatch(self.broker, self.executions, [doc], delay_ms=delay)
        return None
