"""Queue executions on their priority's queue; find the ones whose message was lost.

An execution that could not be queued stays ``pending`` with ``enqueuedAt: null``; the
scheduler's leader queues it when Redis is back (the seeds' graceful fallback), so a
submission is never lost to a Redis outage.

A message can also be lost *after* it was queued: Redis failed over to a replica that had
not received it yet, or restarted without persistence. Each message's id is derived from
its execution and the ``enqueuedAt`` stored with it (:func:`message_id`), so the leader can
ask Redis whether an execution that waits is still queued (:func:`lost`) and queue it
again if not. A duplicate is harmless: a message for an execution that is no longer
waiting does nothing.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import structlog
from dramatiq import Broker
from dramatiq.brokers.redis import RedisBroker
from redis.exceptions import RedisError

from jobyard_libs.mongo import utcnow
from jobyard_libs.queue.broker import messages_present
from jobyard_libs.queue.contracts import ActorName, ExecutePayload, Queue
from jobyard_libs.queue.sender import build_message, enqueue_many
from jobyard_libs.tasks.documents import Execution
from jobyard_libs.tasks.repository import ExecutionRepository

log = structlog.get_logger(__name__)
INFRASTRUCTURE_RETRIES = 5
_SENDS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="redis-send")


def message_id(execution_id: object, enqueued_at: datetime) -> str:
    """The id of the message that queued this execution at ``enqueued_at``."""
    return f"{execution_id}-{int(enqueued_at.timestamp() * 1000)}"


async def dispatch(
    broker: Broker,
    executions: ExecutionRepository,
    queued_now: list[Execution],
    *,
    delay_ms: int | None = None,
    stamped: datetime | None = None,
) -> int:
    """Queue executions (after ``delay_ms``); how many were queued (the rest wait for the scheduler).

    ``stamped``: the ``enqueuedAt`` the write that readied them stored already (an insert,
    a retry, a replay), so queueing costs no write; without it, they are marked now. Those
    Redis refused are unmarked, so the scheduler queues them at its next tick.
    """
    stamp = stamped or utcnow()
    messages = [
        build_message(
            ActorName.TASK_EXECUTE,
            ExecutePayload(execution_id=str(execution.id)),
            queue=Queue(execution.queue),
            message_id=message_id(execution.id, stamp),
            # A task's own failures are retried per execution (tasks.outcomes); these
            # Dramatiq retries only cover infrastructure errors (MongoDB briefly away).
            max_retries=INFRASTRUCTURE_RETRIES,
        )
        for execution in queued_now
    ]
    ids = [execution.id for execution in queued_now]
    try:
        # in a thread: Redis slow or hung holds this call, not every request on the event loop;
        # threads of their own, so sends stuck on Redis never hold the loop's default executor
        # (its name look-ups for new MongoDB and Redis connections)
        send = functools.partial(enqueue_many, broker, messages, delay_ms=delay_ms)
        await asyncio.get_running_loop().run_in_executor(_SENDS, send)
    except RedisError as exc:
        # some may be queued: the scheduler finds what is lost; a duplicate does nothing
        log.warning("executions_not_queued", executions=len(ids), error=str(exc))
        if stamped is not None and ids:
            await executions.mark_enqueued(ids, None)
        return 0
    if stamped is None and ids:
        await executions.mark_enqueued(ids, stamp)
    return len(ids)


def lost(broker: Broker, waiting: Sequence[Execution]) -> list[Execution]:
    """Of executions marked queued and still waiting, those whose message Redis no longer holds."""
    assert isinstance(broker, RedisBroker)
    checks = [(e, e.enqueued_at) for e in waiting if e.enqueued_at is not None]
    present = messages_present(broker, [(e.queue, message_id(e.id, at)) for e, at in checks])
    return [e for (e, _), there in zip(checks, present, strict=True) if not there]
