"""Every change of an execution's status, and what it sets off: the one place for both.

A status change is a conditional update (:mod:`jobyard_libs.tasks.transitions`, which
only this module may use) and then, always, its consequences (:class:`ExecutionEffects`):
the live event to its owner's stream, the count in the monitor's task stats, and, when it
finished, its completion webhook queued. Nothing changes an execution's status without
going through :class:`ExecutionLifecycle`, whose constructor requires the effects: they
cannot be forgotten, or silently dropped.

Usage
-----

::

    lifecycle = ExecutionLifecycle(db, ExecutionEffects(events, stats, broker))
    started = await lifecycle.start_attempt(execution_id)   # claimed (event + stats), or None
    # a worker's lifecycle claims in Redis (claims=...): nothing written or told until
    # confirm_attempt (a long attempt) or finish_attempt (its end, written with the claim)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from dramatiq import Broker
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from jobyard_libs.batching import Coalescer
from jobyard_libs.documents import Oid, new_id
from jobyard_libs.events import EventPublisher
from jobyard_libs.mongo import Database, utcnow
from jobyard_libs.outages import MONGODB_OUTAGES
from jobyard_libs.queue.contracts import ActorName, ExecutePayload
from jobyard_libs.queue.sender import enqueue
from jobyard_libs.tasks.claims import AttemptClaims, Claim
from jobyard_libs.tasks.documents import Execution
from jobyard_libs.tasks.models import FINISHED, ExecutionStatus
from jobyard_libs.tasks.stats import TaskStats
from jobyard_libs.tasks.transitions import AttemptEnd, ExecutionTransitions
from jobyard_libs.workflows.progress import WorkflowProgress


@dataclass(frozen=True)
class AttemptNotes:
    """What an attempt leaves for whoever debugs it (the worker's journal writes them)."""

    traceback: str | None = None
    logs: Sequence[str] = ()


NO_NOTES = AttemptNotes()

log = structlog.get_logger(__name__)
DELIVERY_RETRIES = 5
GROUP_MAX = 500  # claims or ends in one command at most


@dataclass(frozen=True)
class ExecutionEffects:
    """What every status change sets off: a live event, stats, and a completion webhook."""

    events: EventPublisher
    stats: TaskStats
    broker: Broker

    @classmethod
    def of(cls, events: EventPublisher, broker: Broker) -> ExecutionEffects:
        return cls(events, TaskStats(events.redis, events.keys), broker)

    async def changed(
        self, executions: Sequence[Execution], *, also: Callable[[Pipeline], None] | None = None
    ) -> None:
        """Best effort: a lost event, count or webhook never fails the change itself. The
        events and counts of many changes (a group commit's) go to Redis in one round trip,
        with what ``also`` adds to it (the ended attempts' claims)."""
        if not executions and also is None:
            return
        try:
            async with self.events.redis.pipeline(transaction=False) as pipe:
                for execution in executions:
                    self.events.add_execution_changed(pipe, execution)
                self.stats.add(pipe, executions)
                if also is not None:
                    also(pipe)
                await pipe.execute()
        except RedisError as exc:
            log.warning("task_events_not_published", executions=len(executions), error=str(exc))
        for execution in executions:
            if execution.webhook_url and execution.status in FINISHED:
                try:
                    enqueue(
                        self.broker,
                        ActorName.TASK_SEND_WEBHOOK,
                        ExecutePayload(execution_id=str(execution.id)),
                        max_retries=DELIVERY_RETRIES,
                    )
                except RedisError as exc:
                    log.warning("webhook_not_queued", execution_id=str(execution.id), error=str(exc))


class ExecutionLifecycle:
    """``group_commit``: claims and attempt ends arriving within this many seconds of each other
    go to MongoDB together, and their events to Redis together (a worker's); a group is
    written at once when ``group_size`` are waiting (a worker's threads: all of them are).
    ``None`` writes each alone (the api, the scheduler). ``holder``: the worker process whose
    claims these are (its broker id, :mod:`jobyard_libs.queue.liveness`).

    ``claims``: attempts are claimed in Redis (:mod:`jobyard_libs.tasks.claims`) and written to
    MongoDB only by :meth:`confirm_attempt` (the worker calls it once an attempt outlives a
    threshold) or with their end; each claim lives its attempt's timeout plus
    ``claim_grace_ms``. Without ``claims`` (or while Redis is away) a claim is a MongoDB write."""

    def __init__(
        self,
        db: Database,
        effects: ExecutionEffects,
        *,
        group_commit: float | None = None,
        group_size: int = GROUP_MAX,
        holder: str | None = None,
        claims: AttemptClaims | None = None,
        claim_grace_ms: int = 0,
    ) -> None:
        self.transitions = ExecutionTransitions(db)
        self.effects = effects
        self.workflows = WorkflowProgress(db, effects.broker)
        self.holder = holder
        self.claims = claims if holder is not None else None
        self.claim_grace_ms = claim_grace_ms
        self._claims: Coalescer[Oid, Execution | None] | None = None
        self._ends: Coalescer[AttemptEnd, Execution | None] | None = None
        if group_commit is not None:
            size = min(group_size, GROUP_MAX)
            self._claims = Coalescer(self._claim, window=group_commit, max_size=size)
            self._ends = Coalescer(self._finish, window=group_commit, max_size=size)

    async def _told(self, execution: Execution | None) -> Execution | None:
        if execution is not None:
            await self._tell([execution])
        return execution

    async def _tell(
        self, executions: list[Execution], also: Callable[[Pipeline], None] | None = None
    ) -> None:
        """The workflows whose steps ended moved on (best effort: the scheduler's reconciler
        moves on what this misses), then the effects of these changes. In that order: a live
        page that fetches a workflow when one of its steps ends finds the workflow moved on
        (a step skipped for it has no event of its own)."""
        ended: dict[Oid, list[Execution]] = {}
        for execution in executions:
            if execution.workflow_id is not None and execution.status in FINISHED:
                ended.setdefault(execution.workflow_id, []).append(execution)
        for workflow_id, steps_ended in ended.items():
            try:
                await self.workflows.advance(workflow_id, steps_ended)
            except Exception as exc:  # the change is made: the reconciler moves the workflow on
                log.warning(
                    "workflow_not_advanced",
                    workflow_id=str(workflow_id),
                    error=f"{type(exc).__name__}: {exc}"[:300],
                    outage=isinstance(exc, MONGODB_OUTAGES),
                )
        await self.effects.changed(executions, also=also)

    def claim_of(self, execution: Execution) -> Claim:
        """The Redis claim of the attempt ``execution`` is in."""
        started = execution.last_attempt_at or utcnow()
        return Claim(
            execution.id,
            execution.holder or "",
            int(started.timestamp()) * 1000 + started.microsecond // 1000,
            execution.attempts,
            execution.timeout_ms + self.claim_grace_ms,
        )

    async def _claim(self, execution_ids: list[Oid]) -> list[Execution | None]:
        if self.claims is not None:
            try:
                return await self._claim_in_redis(self.claims, execution_ids)
            except RedisError as exc:
                log.warning("attempt_claims_in_mongodb", reason="redis unavailable", error=str(exc))
        won = await self.transitions.start_attempts(execution_ids, holder=self.holder)
        # the same execution twice in one batch (a redelivery racing the first): one runs it
        claimed = [won.pop(execution_id, None) for execution_id in execution_ids]
        await self._tell([execution for execution in claimed if execution is not None])
        return claimed

    async def _claim_in_redis(
        self, claims: AttemptClaims, execution_ids: list[Oid]
    ) -> list[Execution | None]:
        """One read of what may run, one Redis round trip claiming it; nothing written to MongoDB
        and nothing told (the record still says what it said)."""
        now, token = utcnow(), new_id()
        images = {
            waiting.id: waiting.next_attempt(holder=self.holder, claim=token, at=now)
            for waiting in await self.transitions.claimable(execution_ids)
        }
        held = await claims.take([self.claim_of(image) for image in images.values()])
        won = {execution_id: image for execution_id, image in images.items() if held[execution_id] is None}
        return [won.pop(execution_id, None) for execution_id in execution_ids]

    async def _finish(self, ends: list[AttemptEnd]) -> list[Execution | None]:
        finished = await self.transitions.finish_attempts(ends)
        release = None
        if self.claims is not None:
            claims, ended = self.claims, [self.claim_of(end.execution) for end in ends]
            release = lambda pipe: claims.release(pipe, ended)  # noqa: E731 - on the events' round trip
        await self._tell([execution for execution in finished if execution is not None], also=release)
        return finished

    async def confirm_attempt(self, claimed: Execution) -> Execution | None:
        """Write an attempt held by its Redis claim alone (``processing``), and tell it; ``None``
        if its record moved meanwhile (cancelled)."""
        return await self._told(await self.transitions.confirm(claimed))

    async def forget_claim(self, claimed: Execution) -> None:
        """Let another delivery claim the attempt ``claimed`` is in: it never ran (best effort)."""
        if self.claims is None or claimed.claim_stored:
            return
        try:
            await self.claims.forget(self.claim_of(claimed))
        except RedisError as exc:  # it expires by itself
            log.warning("attempt_claim_not_released", execution_id=str(claimed.id), error=str(exc))

    async def start_attempt(self, execution_id: Oid) -> Execution | None:
        """pending/retrying → processing with one more attempt; ``None`` if it must not run."""
        if self._claims is not None:
            return await self._claims.submit(execution_id)
        [claimed] = await self._claim([execution_id])
        return claimed

    async def finish_attempt(
        self,
        execution: Execution,
        *,
        status: ExecutionStatus,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        retry_at: datetime | None = None,
        enqueued_at: datetime | None = None,
        notes: AttemptNotes = NO_NOTES,
    ) -> Execution | None:
        """End the attempt ``execution`` (as its claim left it) is in; ``None`` if it was no
        longer in it (cancelled meanwhile, or taken over). ``notes``: its traceback and the
        lines its kind logged, kept with the attempt."""
        end = AttemptEnd(
            execution, status, result, error, retry_at, enqueued_at, notes.traceback, tuple(notes.logs)
        )
        if self._ends is not None:
            return await self._ends.submit(end)
        [finished] = await self._finish([end])
        return finished

    async def await_callback(
        self, execution_id: Oid, *, attempt: int, deadline: datetime
    ) -> Execution | None:
        return await self._told(
            await self.transitions.await_callback(execution_id, attempt=attempt, deadline=deadline)
        )

    async def cancel(self, execution_id: Oid) -> Execution | None:
        return await self._told(await self.transitions.cancel(execution_id))

    async def reset_for_replay(self, dead: Execution, *, enqueued_at: datetime) -> Execution | None:
        """dead → pending with a fresh retry budget; a workflow's step is pending again too,
        and its workflow running (the steps skipped for its death are decided again)."""
        replayed = await self._told(await self.transitions.reset_for_replay(dead, enqueued_at=enqueued_at))
        if replayed is not None and replayed.workflow_id is not None and replayed.step_id is not None:
            await self.workflows.workflows.resume(replayed.workflow_id, replayed.step_id, replayed.id)
        return replayed
