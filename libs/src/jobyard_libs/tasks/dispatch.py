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


async def dispatch(broker: Broker, executions: ExecutionRepository, docs: list[Document]) -> int:
    """Queue ``docs``; returns how many were queued (the rest wait for the scheduler)."""
    queued = []
    for doc in docs:
        try:
            enqueue(
                broker,
                ActorName.TASK_EXECUTE,
                ExecutePayload(execution_id=str(doc["_id"])),
                queue=Queue(doc["queue"]),
                max_retries=doc["maxRetries"],
            )
        except RedisError as exc:
            log.warning("execution_not_queued", execution_id=str(doc["_id"]), error=str(exc))
            break
        queued.append(doc["_id"])
    if queued:
        await executions.mark_enqueued(queued)
    return len(queued)
