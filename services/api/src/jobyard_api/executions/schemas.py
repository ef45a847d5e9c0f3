from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from jobyard_libs.documents import IdStr
from jobyard_libs.schemas import ApiModel
from jobyard_libs.tasks.models import ExecutionStatus
from pydantic import AwareDatetime, Field


class AttemptOut(ApiModel):
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    error: str | None
    worker_lost: bool = Field(
        False, description="its worker died mid-attempt: failed, and retried at once (or dead)"
    )
    traceback: str | None = Field(
        None, description="where the task's code failed (8,000 characters at most, secrets redacted)"
    )
    logs: list[str] = Field(
        default_factory=list, description="what its kind logged (50 lines at most, secrets redacted)"
    )


class WebhookDeliveryOut(ApiModel):
    status: int | None = Field(description="the receiver's HTTP status, if it answered")
    error: str | None = Field(description="why the delivery failed or its answer was refused")
    at: datetime


class ExecutionOut(ApiModel):
    id: IdStr
    task_id: IdStr
    task_name: str | None = Field(None, description="its task's name (in lists of executions)")
    owner_id: str
    kind: str
    payload: dict[str, Any] | None = Field(
        None, description="what the kind was given (on GET of one execution; lists leave it out)"
    )
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
    live_logs: list[str] | None = Field(
        None, description="while an attempt runs (on GET of one execution): what it logged so far"
    )
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


class BulkAction(StrEnum):
    REPLAY = "replay"  # dead ones: run again with a fresh retry budget
    DISCARD = "discard"  # dead ones: their dead letters go (the executions stay, dead)
    CANCEL = "cancel"  # pending, retrying or running ones


class ExecutionFilterIn(ApiModel):
    """Which executions: every field narrows; none is every execution the caller may see."""

    status: ExecutionStatus | None = None
    kind: str | None = Field(None, max_length=64)
    task_name: str | None = Field(None, max_length=200, description="part of the task's name, any case")
    owner_id: str | None = Field(None, max_length=200, description="admins: one owner's executions")
    since: AwareDatetime | None = Field(None, description="created at or after")
    until: AwareDatetime | None = Field(None, description="created before")


class BulkIn(ApiModel):
    action: BulkAction
    filter: ExecutionFilterIn = Field(default_factory=ExecutionFilterIn)
    dry_run: bool = Field(False, description="count what the action would apply to, change nothing")


class BulkFailure(ApiModel):
    id: IdStr
    error: str


class BulkOut(ApiModel):
    action: BulkAction
    matched: int = Field(description="executions the filter and the action's condition cover (capped)")
    capped: bool = Field(description="more match than one request applies to: send it again for the rest")
    done: int
    failed: list[BulkFailure] = Field(description="the first of those it could not change, and why")
