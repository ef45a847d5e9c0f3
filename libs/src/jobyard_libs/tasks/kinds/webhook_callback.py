"""Waits for an external system to POST the result to ``/api/v1/callbacks/{executionId}``.

Optionally notifies that system first (``notifyUrl``, through the egress guard: a POST of
``{"executionId", "callbackPath", "callbackSecret"}`` signed with the task's webhook
secret). The attempt then waits without holding a worker: a callback signed with the
execution's own callback secret completes it (``{"status": "completed", "result": {...}}``)
or fails it (``{"status": "failed", "error": "..."}``); no callback within
``callbackTimeoutMs`` fails it. A failure is retried like any other.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from jobyard_libs.auth import Role

NAME = "webhook-callback"
ROLES = frozenset(Role)


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    callback_timeout_ms: int = Field(300_000, ge=100, le=7 * 24 * 3600 * 1000, alias="callbackTimeoutMs")
    notify_url: HttpUrl | None = Field(None, alias="notifyUrl")
