from __future__ import annotations

from datetime import datetime
from typing import Any

from jobyard_libs.documents import IdStr
from jobyard_libs.schemas import ApiModel
from jobyard_libs.tasks.models import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_PRIORITY,
    DEFAULT_TIMEOUT_MS,
    DEFAULT_TIMEZONE,
    ExecutionStatus,
    MisfirePolicy,
    TaskAction,
    TaskStatus,
    TaskType,
)
from pydantic import Field, HttpUrl


class TaskIn(ApiModel):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    type: TaskType = TaskType.ONE_TIME
    kind: str = Field(min_length=1, max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(
        DEFAULT_PRIORITY,
        ge=0,
        le=10,
        description="0-10; 7+ → tasks.high, 4-6 → tasks.default, 0-3 → tasks.low",
    )
    scheduled_at: datetime | None = Field(None, description="delayed tasks: when to run (ISO 8601, future)")
    cron: str | None = Field(
        None, max_length=120, description="recurring tasks: 5 fields, or 6 with seconds last"
    )
    timezone: str = Field(DEFAULT_TIMEZONE, max_length=64)
    misfire_policy: MisfirePolicy = MisfirePolicy.FIRE_ONCE
    max_retries: int = Field(DEFAULT_MAX_RETRIES, ge=0, le=20)
    timeout_ms: int = Field(DEFAULT_TIMEOUT_MS, ge=100, le=24 * 3600 * 1000)
    webhook_url: HttpUrl | None = Field(
        None, description="POSTed a signed JSON body when an execution finishes"
    )


class TaskPatch(ApiModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    payload: dict[str, Any] | None = None
    priority: int | None = Field(None, ge=0, le=10)
    scheduled_at: datetime | None = None
    cron: str | None = Field(None, max_length=120)
    timezone: str | None = Field(None, max_length=64)
    misfire_policy: MisfirePolicy | None = None
    max_retries: int | None = Field(None, ge=0, le=20)
    timeout_ms: int | None = Field(None, ge=100, le=24 * 3600 * 1000)
    webhook_url: HttpUrl | None = None


class TaskCounts(ApiModel):
    """How many of the caller's tasks are in each state (an admin's: everyone's, or one owner's)."""

    by_status: dict[TaskStatus, int] = Field(description="active, paused, done and cancelled")
    capped_at: int = Field(description="a state with more than this many is shown as this number + 1")


class LastRun(ApiModel):
    """A task's newest execution: what its last run came to (or is doing)."""

    execution_id: IdStr
    status: ExecutionStatus = Field(description="pending, processing, retrying, completed, dead or cancelled")
    at: datetime = Field(description="when it finished, or (unfinished) when it was created")


class TaskOut(ApiModel):
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


class BatchIn(ApiModel):
    tasks: list[TaskIn] = Field(min_length=1)


class BatchCreated(ApiModel):
    task_ids: list[IdStr]
    execution_ids: list[IdStr]
    queued: int


class RunStarted(ApiModel):
    execution_id: IdStr


class CronPreview(ApiModel):
    runs: list[datetime] = Field(description="the next runs, as UTC instants")
    description: str = Field(description="the schedule in English words")
