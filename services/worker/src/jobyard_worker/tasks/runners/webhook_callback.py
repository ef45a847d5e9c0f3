"""webhook-callback: notify the external system (optional), then wait for its signed callback."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from jobyard_libs.signing import sign_headers
from jobyard_libs.tasks.kinds.webhook_callback import NAME, Payload

from jobyard_worker.tasks.runners.http import HttpCallFailed

if TYPE_CHECKING:
    from jobyard_worker.tasks.runners import KindContext

__all__ = ["NAME", "AwaitCallback", "run"]
NOTIFY_READ_BYTES = 4096


class AwaitCallback(Exception):
    """The attempt goes on outside the worker, until a callback or the deadline."""

    def __init__(self, timeout_ms: int) -> None:
        super().__init__(f"waiting up to {timeout_ms} ms for a callback")
        self.timeout_ms = timeout_ms


async def run(context: KindContext, payload: Payload) -> dict[str, Any]:
    if payload.notify_url is not None:
        url = str(payload.notify_url)
        body = json.dumps(
            {
                "executionId": context.execution_id,
                "callbackPath": f"/api/v1/callbacks/{context.execution_id}",
                "callbackSecret": context.settings.callback_secret(context.execution_id),
            }
        ).encode()
        headers = {
            "Content-Type": "application/json",
            **sign_headers(
                body,
                secret=context.settings.task_webhook_secret(context.task_id),
                message_id=f"msg_{context.execution_id}_notify_{context.attempt}",
            ),
        }
        async with context.guard.stream("POST", url, content=body, headers=headers) as response:
            await context.guard.read(response, limit=NOTIFY_READ_BYTES)
        if not 200 <= response.status_code < 300:
            raise HttpCallFailed(f"notifying {url} failed: HTTP {response.status_code}")
    raise AwaitCallback(payload.callback_timeout_ms)
