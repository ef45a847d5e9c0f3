"""Deliver a finished execution's completion webhook (retried by Dramatiq on failure).

Through the egress guard (a refused destination is not retried, and audited), signed with
the task's own webhook secret (ours and the Standard Webhooks headers), reading at most a few KiB of the answer (decoded within the
cap). Never for a deactivated owner.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from jobyard_libs.documents import as_id
from jobyard_libs.egress import EgressError, EgressFailed, EgressRefused
from jobyard_libs.mongo import utcnow
from jobyard_libs.queue.contracts import ActorName, ExecutePayload
from jobyard_libs.signing import sign_headers
from jobyard_libs.tasks.documents import Execution, WebhookDelivery
from jobyard_libs.tasks.repository import ANY_OWNER, ExecutionRepository

from jobyard_worker.actor_registry import actor
from jobyard_worker.context import worker_context

log = structlog.get_logger(__name__)
ANSWER_READ_BYTES = 4096


def webhook_body(execution: Execution) -> dict[str, object]:
    """What the POST says (queued as ``tasks.send_webhook`` by the lifecycle when an execution
    finishes, so whoever finished it never waits on someone else's server)."""
    return {
        "event": "execution.finished",
        "executionId": str(execution.id),
        "taskId": str(execution.task_id),
        "status": execution.status.value,
        "attempts": execution.attempts,
        "result": execution.result,
        "error": execution.error,
        "completedAt": execution.completed_at.isoformat() if execution.completed_at else None,
    }


class WebhookRefused(Exception):
    pass


class WebhookUndeliverable(Exception):
    """No retry would change it: a refused destination, a malformed answer."""


@actor(ActorName.TASK_SEND_WEBHOOK, min_backoff=1000, max_backoff=60_000, throws=(WebhookUndeliverable,))
async def send_webhook(payload: dict[str, Any]) -> None:
    context = worker_context()
    executions = ExecutionRepository(context.resources.db)
    execution_id = as_id(ExecutePayload.model_validate(payload).execution_id)
    execution = await executions.get(execution_id, ANY_OWNER)
    if execution is None or not execution.webhook_url:
        return
    owner = await context.rights.state(execution.owner_id)
    if owner is not None and not owner.active:  # a deactivated account's work tells no one anything
        await executions.record_webhook(
            execution_id, WebhookDelivery(error="not sent: the task's owner is deactivated", at=utcnow())
        )
        return
    url = execution.webhook_url
    body = json.dumps(webhook_body(execution)).encode()
    headers = {
        "Content-Type": "application/json",
        # one message per finish of the execution: the same id on every retry of its delivery
        **sign_headers(
            body,
            secret=context.settings.task_webhook_secret(str(execution.task_id)),
            message_id=f"msg_{execution.id}_{execution.replays}",
        ),
    }
    status: int | None = None
    try:
        async with context.guard.stream("POST", url, content=body, headers=headers) as response:
            status = response.status_code
            await context.guard.read(response, limit=ANSWER_READ_BYTES)
    except EgressError as failed:
        await executions.record_webhook(
            execution_id, WebhookDelivery(status=status, error=str(failed)[:500], at=utcnow())
        )
        if isinstance(failed, EgressRefused):
            target = ("execution", str(execution_id))
            await context.audit.egress_refused(execution.owner_id, target, failed, kind="completion webhook")
        if isinstance(failed, EgressRefused) or (isinstance(failed, EgressFailed) and not failed.retryable):
            raise WebhookUndeliverable(str(failed)) from failed
        raise
    await executions.record_webhook(execution_id, WebhookDelivery(status=response.status_code, at=utcnow()))
    if not 200 <= response.status_code < 300:
        raise WebhookRefused(f"{url} answered HTTP {response.status_code}")
    log.info("webhook_delivered", execution_id=str(execution_id), url=url)
