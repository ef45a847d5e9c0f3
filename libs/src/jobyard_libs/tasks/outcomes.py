"""What happens after an attempt fails: a retry later, or a dead letter (and its replay).

Shared by the worker (a task raised or timed out), the api (a callback reported failure)
and the scheduler (a callback never came). A retry is queued again with an exponential
backoff with jitter, counted from the last replay; when no retry is left, the execution
is ``dead`` and a dead letter is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog
from dramatiq import Broker

from jobyard_libs.backoff import backoff
from jobyard_libs.mongo import utcnow
from jobyard_libs.queue.liveness import WORKER_LOST
from jobyard_libs.tasks.dispatch import dispatch
from jobyard_libs.tasks.documents import Execution
from jobyard_libs.tasks.lifecycle import NO_NOTES, AttemptNotes, ExecutionLifecycle
from jobyard_libs.tasks.models import ExecutionStatus
from jobyard_libs.tasks.repository import DeadLetterRepository, ExecutionRepository
from jobyard_libs.tasks.settings import TaskSettings

log = structlog.get_logger(__name__)


def backoff_ms(retry: int, settings: TaskSettings) -> int:
    """The wait before retry ``retry`` (:func:`jobyard_libs.backoff.backoff`, in ms)."""
    return int(backoff(retry, base=settings.task_retry_base_ms, cap=settings.task_retry_max_ms))


@dataclass(frozen=True)
class Outcomes:
    """What follows a failed attempt, wherever it failed: a retry after a backoff, or, with
    no retry left, a dead execution and its dead letter."""

    lifecycle: ExecutionLifecycle
    executions: ExecutionRepository
    dead_letters: DeadLetterRepository
    broker: Broker
    settings: TaskSettings

    async def failed(
        self, execution: Execution, *, error: str, notes: AttemptNotes = NO_NOTES
    ) -> ExecutionStatus:
        """The attempt ``execution`` is in failed: a retry after a backoff, or dead."""
        retry = execution.attempts - execution.attempt_base  # a replay starts a fresh retry budget
        if retry <= execution.max_retries:
            delay = backoff_ms(retry, self.settings)
            stamp = utcnow()  # the retry's message stamp, written with the retry itself
            updated = await self.lifecycle.finish_attempt(
                execution,
                status=ExecutionStatus.RETRYING,
                error=error,
                retry_at=stamp + timedelta(milliseconds=delay),
                enqueued_at=stamp,
                notes=notes,
            )
            if updated is not None:
                await dispatch(self.broker, self.executions, [updated], delay_ms=delay, stamped=stamp)
            log.warning(
                "execution_retrying",
                execution_id=str(execution.id),
                attempt=execution.attempts,
                error=error,
                delay_ms=delay,
            )
            return ExecutionStatus.RETRYING
        return await self.dead(execution, error=error, notes=notes)

    async def worker_lost(self, execution: Execution) -> ExecutionStatus:
        """The attempt's worker died mid-attempt (:mod:`jobyard_libs.queue.liveness`): that
        attempt failed. It counts against ``maxRetries``, so a task that kills its worker every
        time ends dead instead of running for ever."""
        log.info(
            "attempt_worker_lost",
            execution_id=str(execution.id),
            attempt=execution.attempts,
            holder=execution.holder,
        )
        return await self.failed(execution, error=WORKER_LOST)

    async def replay(self, dead: list[Execution]) -> list[Execution]:
        """Run dead executions again from a fresh retry budget; their dead letters are spent.
        Those replayed (one no longer dead, replayed already, is left out)."""
        stamp = utcnow()  # the replay's message stamp, written with the replay itself
        replayed = [
            execution
            for execution in [await self.lifecycle.reset_for_replay(d, enqueued_at=stamp) for d in dead]
            if execution is not None
        ]
        if replayed:
            await self.dead_letters.delete_of([execution.id for execution in replayed])
            await dispatch(self.broker, self.executions, replayed, stamped=stamp)
        return replayed

    async def dead(
        self, execution: Execution, *, error: str, notes: AttemptNotes = NO_NOTES
    ) -> ExecutionStatus:
        """Dead now, whatever retries are left (a failure no retry would change)."""
        final = await self.lifecycle.finish_attempt(
            execution, status=ExecutionStatus.DEAD, error=error, notes=notes
        )
        await self.dead_letters.record(final or execution, error)
        log.error("execution_dead", execution_id=str(execution.id), attempt=execution.attempts, error=error)
        return ExecutionStatus.DEAD
