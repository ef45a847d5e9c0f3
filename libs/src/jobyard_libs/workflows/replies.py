"""What the api answers about workflows, as it sends them and as readers (the console) read them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from jobyard_libs.documents import IdStr
from jobyard_libs.schemas import Reply
from jobyard_libs.tasks.models import TaskType
from jobyard_libs.workflows.models import RunIf, WorkflowStatus

StepShown = Literal["waiting", "pending", "processing", "completed", "failed", "dead", "skipped", "cancelled"]


class StepOut(Reply):
    id: str
    kind: str
    depends_on: list[str]
    run_if: RunIf
    status: StepShown = Field(
        description="waiting (for its dependencies), pending (queued), processing (an attempt runs or "
        "it waits for a retry), completed, failed (could not start), dead, skipped (its condition can "
        "no longer hold) or cancelled"
    )
    for_each: str | None = Field(description="a forEach step's list: one run per item")
    execution_id: IdStr | None = Field(description="its execution (a forEach step's: see executionIds)")
    execution_ids: list[IdStr] = Field(description="its executions: one, or one per forEach item, in order")
    started_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None = Field(
        description="its execution's result; a forEach step's: {\"items\": [each run's result, in order]}"
    )
    error: str | None


class WorkflowOut(Reply):
    id: IdStr
    owner_id: str
    name: str
    status: WorkflowStatus = Field(
        description="pending (delayed, before its time; recurring, until cancelled), running, completed, "
        "failed or cancelled"
    )
    cancel_requested: bool
    steps: list[StepOut] = Field(description="in the order submitted")
    type: TaskType = TaskType.ONE_TIME
    scheduled_at: datetime | None = None
    cron: str | None = None
    timezone: str = "UTC"
    next_run_at: datetime | None = Field(None, description="pending: when it starts, or its next run")
    run_count: int = Field(0, description="runs started (recurring), or 1 once a delayed one started")
    recurring_id: IdStr | None = Field(None, description="a run's recurring workflow")
    scheduled_for: datetime | None = Field(None, description="a run's moment")
    cancel_reason: str | None = Field(None, description="cancelled by the scheduler before it started: why")
    created_at: datetime
    started_at: datetime | None = None
    updated_at: datetime
    finished_at: datetime | None
