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
    started = await lifecycle.start_attempt(execution_id)   # event + stats, or None
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from dramatiq import Broker
from redis.exceptions import RedisError

from jobyard_libs.documents import Oid
from jobyard_libs.events import EventPublisher
from jobyard_libs.mongo import Database
from jobyard_libs.queue.contracts import ActorName, ExecutePayload
from jobyard_libs.queue.sender import enqueue
from jobyard_libs.tasks.documents import Execution
from jobyard_libs.tasks.models import FINISHED, ExecutionStatus
from jobyard_libs.tasks.stats import TaskStats
from jobyard_libs.tasks.transitions import ExecutionTransitions

log = structlog.get_logger(__name__)
DELIVERY_RETRIES = 5


@dataclass(frozen=True)
class ExecutionEffects:
    """What every status change sets off: a live event, stats, and a completion webhook."""

    events: EventPublisher
    stats: TaskStats
    broker: Broker

    @classmethod
    def of(cls, events: EventPublisher, broker: Broker) -> ExecutionEffects:
        return cls(events, TaskStats(events.redis, events.keys), broker)

    async def changed(self, execution: Execution) -> None:
        """Best effort each: a lost event, count or webhook never fails the change itself."""
        await self.events.execution_changed(execution)
        try:
            await self.stats.record(execution)
        except RedisError as exc:
            log.warning("task_stats_not_recorded", execution_id=str(execution.id), error=str(exc))
        if execution.webhook_url and execution.status in FINISHED:
            try:
                enqueue(self.broker, ActorName.TASK_SEND_WEBHOOK, ExecutePayload(execution_id=str(execution.id)),
                        max_retries=DELIVERY_RETRIES)  # fmt: skip
            except RedisError as exc:
                log.warning("webhook_not_queued", execution_id=str(execution.id), error=str(exc))


class ExecutionLifecycle:
    def __init__(self, db: Database, effects: ExecutionEffects) -> None:
        self.transitions = ExecutionTransitions(db)
        self.effects = effects

    async def _told(self, execution: Execution | None) -> Execution | None:
        if execution is not None:
            await self.effects.changed(execution)
        return execution

    async def start_attempt(self, execution_id: Oid) -> Execution | None:
        return await self._told(await self.transitions.start_attempt(execution_id))

    async def finish_attempt(
        self,
        execution_id: Oid,
        *,
        attempt: int,
        status: ExecutionStatus,
        started_at: datetime,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> Execution | None:
        finished = await self.transitions.finish_attempt(
            execution_id, attempt=attempt, status=status, started_at=started_at, result=result, error=error,
            retry_at=retry_at,
        )  # fmt: skip
        return await self._told(finished)

    async def await_callback(
        self, execution_id: Oid, *, attempt: int, deadline: datetime
    ) -> Execution | None:
        return await self._told(
            await self.transitions.await_callback(execution_id, attempt=attempt, deadline=deadline)
        )

    async def cancel(self, execution_id: Oid) -> Execution | None:
        return await self._told(await self.transitions.cancel(execution_id))

    async def reset_for_replay(self, dead: Execution) -> Execution | None:
        return await self._told(await self.transitions.reset_for_replay(dead))
