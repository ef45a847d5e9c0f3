"""Deliver a finished execution's completion webhook (retried by Dramatiq on failure)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import structlog
from bson import ObjectId
from jobyard_libs.mongo import utcnow
from jobyard_libs.queue.actors import actor
from jobyard_libs.queue.contracts import ActorName, ExecutePayload
from jobyard_libs.signing import sign_headers
from jobyard_libs.tasks.kinds.http import HostNotAllowed, check_host
from jobyard_libs.tasks.repository import ExecutionRepository
from jobyard_libs.tasks.webhooks import webhook_body

from jobyard_worker.context import worker_context

log = structlog.get_logger(__name__)


class WebhookRefused(Exception):
    pass


@actor(ActorName.TASK_SEND_WEBHOOK, min_backoff=1000, max_backoff=60_000, throws=(HostNotAllowed,))
async def send_webhook(payload: dict[str, Any]) -> None:
    context = worker_context()
    executions = ExecutionRepository(context.resources.db)
    execution_id = ObjectId(ExecutePayload.model_validate(payload).execution_id)
    doc = await executions.get(execution_id)
    if doc is None or not doc.get("webhookUrl"):
        return
    url = doc["webhookUrl"]
    await check_host(url, context.settings.http_task_allowed_hosts)
    body = json.dumps(webhook_body(doc)).encode()
    headers = {
        "Content-Type": "application/json",
        **sign_headers(body, secret=context.settings.webhook_secret.get_secret_value()),
    }
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as client:
        response = await client.post(url, content=body, headers=headers)
    await executions.record_webhook(execution_id, {"status": response.status_code, "at": utcnow()})
    if not 200 <= response.status_code < 300:
        raise WebhookRefused(f"{url} answered HTTP {response.status_code}")
    log.info("webhook_delivered", execution_id=str(execution_id), url=url)
