"""Queue executions on their priority's queue; when Redis is down, leave them pending.

An execution that could not be queued stays ``pending`` with ``enqueuedAt: null``; the
scheduler's loop queues it when Redis is back (the seeds' graceful fallback), so a
submission is never lost to a Redis outage.
"""

from __future__ import annotations

import structlog
from dramatiq import Broker
from redis.exceptions import RedisError

from jobyard_libs.mongo import Document
from jobyard_libs.queue.contracts import ActorName, ExecutePayload, Queue
from jobyard_libs.queue.sender import enqueue
from jobyard_libs.tasks.repository import ExecutionRepository

log = structlog.get_logger(__name__)
INFRASTRUCTURE_RETRIES = 5


async def dispatch(
    broker: Broker, executions: ExecutionRepository, docs: list[Document], *, delay_ms: int | None = None
) -> int:
    """Queue ``docs`` (after ``delay_ms``); returns how many were queued (the rest wait for the scheduler)."""
    queued = []
    for doc in docs:
        try:
            enqueue(
                broker,
                ActorName.TASK_EXECUTE,
                ExecutePayload(execution_id=str(doc["_id"])),
                queue=Queue(doc["queue"]),
                delay_ms=delay_ms,
                # A task's own failures are retried per execution (tasks.outcomes); these
                # Dramatiq retries only cover infrastructure errors (MongoDB briefly away).
                max_retries=INFRASTRUCTURE_RETRIES,
            )
        except RedisError as exc:
            log.warning("execution_not_queued", execution_id=str(doc["_id"]), error=str(exc))
            break
        queued.append(doc["_id"])
    if queued:
        await executions.mark_enqueued(queued)
    return len(queued)
