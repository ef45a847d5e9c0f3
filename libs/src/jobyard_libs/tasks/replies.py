"""What the api answers about tasks, executions and dead letters: its response models, and
what the console (or any client in Python) reads them as. camelCase on the wire; fields a
newer api adds are ignored by an older reader (:class:`~jobyard_libs.schemas.Reply`).

Usage
-----

::

    TaskOut.model_validate(task)                    # the api, from a stored Task
    Page[TaskOut].model_validate(response.json())   # a reader, from the api's answer
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from jobyard_libs.documents import IdStr
from jobyard_libs.schemas import Reply
from jobyard_libs.tasks.models import ExecutionStatus, MisfirePolicy, TaskAction, TaskStatus, TaskType


class TaskCounts(Reply):
    """How many of the caller's tasks are in each state (an admin's: everyone's, or one owner's)."""

    by_status: dict[TaskStatus, int] = Field(description="active, paused, done and cancelled")
    capped_at: int = Field(description="a state with more than this many is shown as this number + 1")


class LastRun(Reply):
    """A task's newest execution: what its last run came to (or is doing)."""

    execution_id: IdStr
    status: ExecutionStatus = Field(description="pending, processing, retrying, completed, dead or cancelled")
    at: datetime = Field(description="when it finished, or (unfinished) when it was created")


class TaskOut(Reply):
    id: IdStr
    owner_id: str
    name: str
    description: str | None
    type: TaskType
    kind: str
    payload: dict[str, Any]
    priority: int
    queue: str
    status: TaskStatus
    paused_reason: str | None = Field(
        None,
        description="paused by the platform, not its owner: owner_deactivated, kind_not_allowed (the owner's "
        "role may not run this kind) or cron_too_frequent (more often than the owner's role allows)",
    )
    scheduled_at: datetime | None
    cron: str | None
    timezone: str
    misfire_policy: MisfirePolicy
    next_run_at: datetime | None
    max_retries: int
    timeout_ms: int
    webhook_url: str | None
    run_count: int
    last_run_at: datetime | None
    actions: list[TaskAction] = Field(
        description="what may be done to it now (run, pause, resume, cancel): the console offers these"
    )
    created_at: datetime
    updated_at: datetime
    webhook_secret: str | None = Field(
        None,
        description="the owner's alone: verifies this task's completion webhooks and notify calls "
        "(X-Jobyard-Signature)",
    )
    standard_webhook_secret: str | None = Field(
        None,
        description="the same secret as Standard Webhooks libraries take it (whsec_...): verifies the "
        "webhook-signature header",
    )
    expired_runs: dict[str, int] = Field(
        default_factory=dict,
        description="runs whose executions retention deleted, by status (GET /api/v1/retention says when)",
    )
    last_run: LastRun | None = Field(
        None,
        description="its newest execution's outcome: a task's own status says whether it will run again "
        "(active, paused, done), this says how its last run went (a done one-time task may be dead)",
    )


class TaskCreated(TaskOut):
    execution_id: IdStr | None = Field(None, description="one-time tasks: the execution queued now")


class BatchCreated(Reply):
    task_ids: list[IdStr]
    execution_ids: list[IdStr]
    queued: int


class RunStarted(Reply):
    execution_id: IdStr


class CronPreview(Reply):
    runs: list[datetime] = Field(description="the next runs, as UTC instants")
    description: str = Field(description="the schedule in English words")


class AttemptOut(Reply):
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


class WebhookDeliveryOut(Reply):
    status: int | None = Field(description="the receiver's HTTP status, if it answered")
    error: str | None = Field(description="why the delivery failed or its answer was refused")
    at: datetime


class ExecutionOut(Reply):
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
    workflow_id: IdStr | None = Field(None, description="the workflow this execution is a step of")
    step_id: str | None = Field(None, description="which step of it")
    inputs: dict[str, Any] | None = Field(
        None,
        description="a workflow step's: the results of the steps it depends on, by step id (on GET of one "
        "execution; lists leave it out)",
    )


class BulkAction(StrEnum):
    REPLAY = "replay"  # dead ones: run again with a fresh retry budget
    DISCARD = "discard"  # dead ones: their dead letters go (the executions stay, dead)
    CANCEL = "cancel"  # pending, retrying or running ones


class BulkFailure(Reply):
    id: IdStr
    error: str


class BulkOut(Reply):
    action: BulkAction
    matched: int = Field(description="executions the filter and the action's condition cover (capped)")
    capped: bool = Field(description="more match than one request applies to: send it again for the rest")
    done: int
    failed: list[BulkFailure] = Field(description="the first of those it could not change, and why")


class DeadLetterOut(Reply):
    id: IdStr
    execution_id: IdStr
    task_id: IdStr
    kind: str
    queue: str
    payload: dict[str, Any]
    attempts: int
    error: str
    created_at: datetime
