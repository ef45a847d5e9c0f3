"""Run one attempt of an execution: time limit, cancel, retries with backoff, dead letters.

Every state change is written to the execution (through the lifecycle, which also tells
the world) before anything else happens, so its record always says what the task is
doing. Each attempt's end keeps what its kind logged and, when it failed, its traceback
(:mod:`jobyard_worker.tasks.journal`). A failed attempt is retried after an exponential backoff with jitter while
attempts remain (``maxRetries``); then the execution is ``dead`` and a dead letter is
recorded, from which it can be replayed.

An attempt whose worker died (killed, out of memory) counts as a failed attempt when it is
taken over: a task that crashes the worker every time ends dead after ``maxRetries``, it
does not run forever. Every attempt checks its owner's rights *now* before it runs
(:mod:`jobyard_libs.tasks.rights`): a deactivated owner's execution is cancelled without
running; a kind its owner may no longer submit (a demoted admin's ``import-feeds``) goes
dead at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from dramatiq import Broker
from jobyard_libs.audit import AuditLog
from jobyard_libs.documents import Oid, new_id
from jobyard_libs.egress import EgressGuard, EgressRefused
from jobyard_libs.imports.import_logs import OnChange
from jobyard_libs.mongo import Database, utcnow
from jobyard_libs.outages import MONGODB_OUTAGES
from jobyard_libs.principals import DirectoryUnavailable, PrincipalDirectory
from jobyard_libs.queue.liveness import WorkerLiveness
from jobyard_libs.tasks.dispatch import dispatch
from jobyard_libs.tasks.documents import Execution
from jobyard_libs.tasks.kinds import KINDS
from jobyard_libs.tasks.lifecycle import AttemptNotes, ExecutionLifecycle
from jobyard_libs.tasks.live_logs import LiveLogs
from jobyard_libs.tasks.models import ExecutionStatus
from jobyard_libs.tasks.outcomes import Outcomes
from jobyard_libs.tasks.repository import ANY_OWNER, ExecutionRepository
from jobyard_libs.tasks.rights import OWNER_DEACTIVATED, CronFloors, refusal
from pydantic import ValidationError
from redis.exceptions import RedisError

from jobyard_worker.settings import WorkerSettings
from jobyard_worker.tasks.journal import AttemptLog, traceback_of
from jobyard_worker.tasks.runners import RUNNERS, KindContext
from jobyard_worker.tasks.runners.webhook_callback import AwaitCallback
from jobyard_worker.tasks.written_later import WrittenLater

log = structlog.get_logger(__name__)
WAITING_STATUSES = (ExecutionStatus.PENDING, ExecutionStatus.RETRYING)


class AttemptTimedOut(Exception):
    pass


class AttemptCancelled(Exception):
    pass


class NotPermitted(Exception):
    """The owner may not run this kind (any more): no retry would change that."""


class OwnerDeactivated(Exception):
    """The owner's account is deactivated: the execution is cancelled, not retried."""


@dataclass
class Executor:
    lifecycle: ExecutionLifecycle
    outcomes: Outcomes
    executions: ExecutionRepository
    broker: Broker
    settings: WorkerSettings
    db: Database
    guard: EgressGuard
    rights: PrincipalDirectory
    on_import_change: OnChange
    floors: CronFloors
    audit: AuditLog
    liveness: WorkerLiveness
    live: LiveLogs

    async def execute(self, execution_id: Oid) -> ExecutionStatus | None:
        execution = await self.lifecycle.start_attempt(execution_id)
        if execution is None or execution.last_attempt_at is None:
            await self._not_started(execution_id)
            return None
        attempt = WrittenLater(
            self.lifecycle, execution, after=self.settings.task_processing_write_after_ms / 1000
        )
        try:
            return await self._attempt(execution, attempt)
        except BaseException:
            # an outage (its message comes back later) or a shutdown: the attempt's end is not
            # recorded; an attempt never written lets that message claim it again
            attempt.cancel()
            if attempt.unwritten:
                await self.lifecycle.forget_claim(execution)
            raise

    async def _attempt(self, execution: Execution, attempt: WrittenLater) -> ExecutionStatus | None:
        execution_id = execution.id
        bound = log.bind(execution_id=str(execution_id), kind=execution.kind, attempt=execution.attempts)
        journal = AttemptLog(execution_id=str(execution_id), kind=execution.kind, attempt=execution.attempts)

        def notes(exc: BaseException | None = None) -> AttemptNotes:
            return AttemptNotes(traceback_of(exc) if exc is not None else None, journal.kept())

        try:
            await self._check_permitted(execution)
            result = await self._run(execution, journal)
        except AwaitCallback as waiting:
            deadline = utcnow() + timedelta(milliseconds=waiting.timeout_ms)
            written = await attempt.now()
            await self.lifecycle.await_callback(execution_id, attempt=written.attempts, deadline=deadline)
            bound.info("execution_awaiting_callback", deadline=deadline.isoformat())
            return ExecutionStatus.PROCESSING
        except AttemptCancelled:
            await self.lifecycle.finish_attempt(
                await attempt.settled(), status=ExecutionStatus.CANCELLED, error="cancelled", notes=notes()
            )
            bound.info("execution_cancelled")
            return ExecutionStatus.CANCELLED
        except OwnerDeactivated as refused:
            await self.lifecycle.finish_attempt(
                await attempt.settled(), status=ExecutionStatus.CANCELLED, error=str(refused)
            )
            bound.warning("execution_refused", error=str(refused))
            return ExecutionStatus.CANCELLED
        except NotPermitted as refused:
            bound.warning("execution_not_permitted", error=str(refused))
            return await self.outcomes.dead(await attempt.settled(), error=str(refused), notes=notes())
        except Exception as exc:  # any failure of the task's own code is the task's outcome
            error = f"{type(exc).__name__}: {exc}"[:1000]
            bound.info("attempt_failed", error=error)
            if isinstance(exc, EgressRefused):
                target = ("execution", str(execution.id))
                await self.audit.egress_refused(execution.owner_id, target, exc, kind=execution.kind)
            return await self.outcomes.failed(await attempt.settled(), error=error, notes=notes(exc))
        finished = await self.lifecycle.finish_attempt(
            await attempt.settled(), status=ExecutionStatus.COMPLETED, result=result, notes=notes()
        )
        if finished is None:
            # cancelled meanwhile, or taken over after this worker was silent past the heartbeat
            # timeout (a pause, a partition): the side effect happened, the outcome is the new
            # attempt's (fencing by claim token; at least once, docs/reliability.md)
            bound.warning("attempt_outcome_not_recorded", reason="cancelled or taken over")
            return None
        bound.info("execution_completed")
        return ExecutionStatus.COMPLETED

    async def _check_permitted(self, execution: Execution) -> None:
        try:
            state = await self.rights.state(execution.owner_id)
        except DirectoryUnavailable as exc:
            # rights unconfirmed (Redis away): what anyone may run runs, as a user's token is
            # trusted then; an admin-only kind is never taken on trust (the attempt is retried)
            if refusal(execution.kind, None, "UTC", None, self.floors) is None:
                return
            raise RuntimeError("cannot confirm the owner's rights right now") from exc
        reason = refusal(execution.kind, None, "UTC", state, self.floors)
        if reason == OWNER_DEACTIVATED:
            raise OwnerDeactivated("not run: the task's owner is deactivated")
        if reason is not None:
            raise NotPermitted(
                f"the task's owner may not run {execution.kind!r} tasks (role or account changed)"
            )

    async def _run(self, execution: Execution, journal: AttemptLog) -> dict[str, Any]:
        kind, runner = KINDS.get(execution.kind), RUNNERS.get(execution.kind)
        if kind is None or runner is None:
            raise LookupError(f"unknown kind {execution.kind!r}")
        try:
            payload = kind.payload.model_validate(execution.payload)
        except ValidationError as exc:
            raise ValueError(f"invalid payload: {exc.errors()[0]['msg']}") from exc
        context = KindContext(
            execution_id=str(execution.id),
            task_id=str(execution.task_id),
            owner_id=execution.owner_id,
            attempt=execution.attempts,
            db=self.db,
            broker=self.broker,
            settings=self.settings,
            guard=self.guard,
            on_import_change=self.on_import_change,
            liveness=self.liveness,
            log=journal,
        )
        work = asyncio.ensure_future(runner(context, payload))
        ended = asyncio.Event()
        watch = asyncio.ensure_future(self._watch_cancel(execution.id, ended))
        shown = asyncio.ensure_future(self._show_live(execution, journal, ended))
        try:
            done, _ = await asyncio.wait(
                {work, watch}, timeout=execution.timeout_ms / 1000, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if not work.done():
                work.cancel()
            # the watchers stop when told, never by a cancel: a cancel can be lost (Python 3.11's
            # wait_for drops one that arrives as its inner call ends; pymongo waits for a pooled
            # connection in one), and a watcher that missed it would hold this thread for good
            ended.set()
            await asyncio.gather(work, watch, shown, return_exceptions=True)
        if work in done:
            return work.result()
        if watch in done and watch.result():  # it ends early only for a cancel
            raise AttemptCancelled()
        raise AttemptTimedOut(f"timed out after {execution.timeout_ms} ms")

    async def _watch_cancel(self, execution_id: Oid, ended: asyncio.Event) -> bool:
        """Whether a cancel was requested before the attempt ``ended``. The cancel comes from
        another process (the api), through the execution record. A cancel stored before the
        attempt began kept it from starting: first look one poll in. While MongoDB is away
        the attempt runs on (a cancel is only seen late); its end waits for MongoDB anyway."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended.wait(), self.settings.task_cancel_poll_seconds)
            if ended.is_set():
                return False
            try:
                if await self.executions.cancel_requested(execution_id):
                    return True
            except MONGODB_OUTAGES as exc:
                log.warning("cancel_not_checked", execution_id=str(execution_id), error=str(exc)[:300])

    async def _show_live(self, execution: Execution, journal: AttemptLog, ended: asyncio.Event) -> None:
        """Pass the journal's new lines on to the live view every cancel poll until the attempt
        ends. Nothing once it has ended: its lines are stored with the attempt, and the end of
        every attempt does not wait on one more Redis write."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended.wait(), self.settings.task_cancel_poll_seconds)
            if ended.is_set():
                return
            lines, execution_id = journal.unshown(), str(execution.id)
            try:
                await self.live.append(
                    execution_id, execution.attempts, lines, timeout_ms=execution.timeout_ms
                )
            except RedisError as exc:  # the live view misses them; the attempt keeps them
                log.warning("attempt_log_not_shown_live", execution_id=execution_id, error=str(exc))

    async def _not_started(self, execution_id: Oid) -> None:
        """Cancelled, finished, or running elsewhere: decide what this delivery means.

        A delivery that finds the attempt running (``processing``, or claimed in Redis and not
        yet written) is a redelivered message (its worker died or was paused past the
        heartbeat timeout) or a duplicate. If the attempt's holder is dead, the attempt failed
        now and is retried (or dead); if its holder lives, the attempt is its holder's, and
        this delivery looks again once its timeout has passed.
        """
        execution = await self.executions.get(execution_id, ANY_OWNER)
        if execution is None or execution.awaiting_callback:
            return None  # gone, or waiting for its callback: nothing to do
        if execution.status is ExecutionStatus.PROCESSING and execution.last_attempt_at is not None:
            running = execution
        elif execution.status in WAITING_STATUSES and not execution.cancel_requested:
            unwritten = await self._claimed_elsewhere(execution)
            if unwritten is None:
                return None
            running = unwritten
        else:
            return None  # cancelled or finished
        assert running.last_attempt_at is not None
        grace = timedelta(seconds=self.settings.task_stale_grace_seconds)
        stale_at = running.last_attempt_at + timedelta(milliseconds=running.timeout_ms) + grace
        if utcnow() >= stale_at or await self.liveness.is_dead(running.holder):
            await self.outcomes.worker_lost(running)
            return None
        delay = int((stale_at - utcnow()).total_seconds() * 1000) + 1
        await dispatch(self.broker, self.executions, [running], delay_ms=delay)
        return None

    async def _claimed_elsewhere(self, waiting: Execution) -> Execution | None:
        """The attempt another delivery claimed in Redis and has not written, as the record
        would show it; ``None`` when no such claim is held (this delivery is queued again at
        once: the claim was just released)."""
        claims = self.lifecycle.claims
        if claims is None:
            return None
        held = await claims.held(waiting.id)
        if held is None:
            await dispatch(self.broker, self.executions, [waiting], delay_ms=1)
            return None
        if held.attempt != waiting.attempts + 1:
            return None  # not the attempt this record waits for: the record moved on
        started = datetime.fromtimestamp(held.started_ms / 1000, tz=UTC)
        return waiting.next_attempt(holder=held.holder, claim=new_id(), at=started)
