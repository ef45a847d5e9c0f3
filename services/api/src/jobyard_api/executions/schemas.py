from __future__ import annotations

from datetime import datetime
from typing import Any

from jobyard_libs.documents import IdStr
from jobyard_libs.schemas import ApiModel
from jobyard_libs.tasks.models import ExecutionStatus
from pydantic import Field


class AttemptOut(ApiModel):
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    error: str | None
    worker_lost: bool = Field(
        False, description="its worker died mid-attempt: failed, and retried at once (or dead)"
    )


class WebhookDeliveryOut(ApiModel):
    status: int | None = Field(description="the receiver's HTTP status, if it answered")
    error: str | None = Field(description="why the delivery failed or its answer was refused")
    at: datetime


class ExecutionOut(ApiModel):
    id: IdStr
    task_id: IdStr
    kind: str
    queue: str
    trigger: str
    status: ExecutionStatus
    scheduled_for: datetime
    attempts: int = Field(description="attempts in all, across replays (attempt numbers go on counting)")
    attempt: int = Field(
        0, description="this run's attempt: 1 of attemptsAllowed, counted from the last replay"
    )
    attempts_allowed: int = Field(
        0, description="maxRetries + 1: the attempts one run (or one replay) may take"
    )
    max_retries: int
    replays: int = Field(description="how often it was replayed from the dead letters (each a fresh budget)")
    attempt_history: list[AttemptOut]
    enqueued_at: datetime | None
    holder: str | None = Field(None, description="the worker process (its id) that took the last attempt")
    started_at: datetime | None
    completed_at: datetime | None
    duration_ms: int | None
    retry_at: datetime | None
    result: dict[str, Any] | None
    error: str | None
    cancel_requested: bool
    awaiting_callback: bool
    callback_deadline: datetime | None
    created_at: datetime
    expires_at: datetime | None = Field(
        None, description="when retention deletes it (JOBYARD_RETENTION_*); unset until it finishes"
    )
    webhook: WebhookDeliveryOut | None = Field(
        None, description="the last delivery of its completion webhook"
    )
    callback_secret: str | None = Field(
        None,
        description="webhook-callback executions, to their owner alone: the secret that signs this "
        "execution's callback",
    )
