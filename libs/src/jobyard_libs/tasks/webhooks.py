"""Completion webhooks: when an execution finishes, tell the URL its task names.

The notification is queued (``tasks.send_webhook``), so whoever finished the execution
never waits on someone else's server, and delivery is retried with backoff. The worker
POSTs a JSON body signed like callbacks (``X-Jobyard-Timestamp``, ``X-Jobyard-Signature``).

Examples
--------
>>> notify = execution_notifier(resources.events, broker)
>>> executions = ExecutionRepository(db, notify)
"""

from __future__ import annotations

import structlog
from dramatiq import Broker
from redis.exceptions import RedisError

from jobyard_libs.events import EventPublisher
from jobyard_libs.mongo import Document
from jobyard_libs.queue.contracts import ActorName, ExecutePayload
from jobyard_libs.queue.sender import enqueue
from jobyard_libs.tasks.models import FINISHED, ExecutionStatus
from jobyard_libs.tasks.repository import Notify
from jobyard_libs.tasks.stats import TaskStats

log = structlog.get_logger(__name__)
DELIVERY_RETRIES = 5


def webhook_body(doc: Document) -> dict[str, object]:
    return {
        "event": "execution.finished",
        "executionId": str(doc["_id"]),
        "taskId": str(doc["taskId"]),
        "status": doc["status"],
        "attempts": doc["attempts"],
        "result": doc.get("result"),
        "error": doc.get("error"),
        "completedAt": doc["completedAt"].isoformat() if doc.get("completedAt") else None,
    }


def execution_notifier(events: EventPublisher, broker: Broker) -> Notify:
    """Publish every change live; count finished executions (the monitor's task stats);
    queue the completion webhook of a finished execution."""
    stats = TaskStats(events.redis, events.keys)

    async def notify(doc: Document) -> None:
        await events.execution_changed(doc)
        try:
            await stats.record(doc)
        except RedisError as exc:  # stats are best effort: never fail the change itself
            log.warning("task_stats_not_recorded", execution_id=str(doc["_id"]), error=str(exc))
        if doc.get("webhookUrl") and ExecutionStatus(doc["status"]) in FINISHED:
            try:
                enqueue(broker, ActorName.TASK_SEND_WEBHOOK, ExecutePayload(execution_id=str(doc["_id"])),
                        max_retries=DELIVERY_RETRIES)  # fmt: skip
            except RedisError as exc:
                log.warning("webhook_not_queued", execution_id=str(doc["_id"]), error=str(exc))

    return notify
