"""Waits for an external system to POST the result to ``/api/v1/callbacks/{executionId}``.

Optionally notifies that system first (``notifyUrl``: a signed POST of
``{"executionId", "callbackPath"}``). The attempt then waits without holding a worker:
a callback signed with the webhook secret completes it (``{"status": "completed",
"result": {...}}``) or fails it (``{"status": "failed", "error": "..."}``); no callback
within ``callbackTimeoutMs`` fails it. A failure is retried like any other.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from jobyard_libs.signing import sign_headers
from jobyard_libs.tasks.kinds.http import HttpCallFailed, check_host

NAME = "webhook-callback"


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    callback_timeout_ms: int = Field(300_000, ge=100, le=7 * 24 * 3600 * 1000, alias="callbackTimeoutMs")
    notify_url: HttpUrl | None = Field(None, alias="notifyUrl")


class AwaitCallback(Exception):
    """The attempt goes on outside the worker, until a callback or the deadline."""

    def __init__(self, timeout_ms: int) -> None:
        super().__init__(f"waiting up to {timeout_ms} ms for a callback")
        self.timeout_ms = timeout_ms


async def run(context: Any, payload: Payload) -> dict[str, Any]:
    if payload.notify_url is not None:
        url = str(payload.notify_url)
        await check_host(url, getattr(context.settings, "http_task_allowed_hosts", ""))
        body = json.dumps(
            {"executionId": context.execution_id, "callbackPath": f"/api/v1/callbacks/{context.execution_id}"}
        ).encode()
        headers = {
            "Content-Type": "application/json",
            **sign_headers(body, secret=context.settings.webhook_secret.get_secret_value()),
        }
        async with httpx.AsyncClient(follow_redirects=False, timeout=30) as client:
            response = await client.post(url, content=body, headers=headers)
        if not 200 <= response.status_code < 300:
            raise HttpCallFailed(f"notifying {url} failed: HTTP {response.status_code}")
    raise AwaitCallback(payload.callback_timeout_ms)
