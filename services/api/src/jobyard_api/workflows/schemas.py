from __future__ import annotations

from datetime import datetime
from typing import Any

from jobyard_libs.schemas import ApiModel
from jobyard_libs.tasks.models import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_PRIORITY,
    DEFAULT_TIMEOUT_MS,
    DEFAULT_TIMEZONE,
    TaskType,
)
from jobyard_libs.workflows.models import RunIf
from pydantic import Field


class StepIn(ApiModel):
    id: str = Field(min_length=1, max_length=64, description="a letter, then letters, digits, '-' or '_'")
    kind: str = Field(min_length=1, max_length=64)
    payload: dict[str, Any] = Field(
        default_factory=dict,
        description='the kind\'s payload; a string value "${step.result.key}" takes that value from a '
        "step it depends on",
    )
    depends_on: list[str] = Field(default_factory=list, max_length=100)
    run_if: RunIf = Field(RunIf.ALL_SUCCEEDED, description="once every dependency is done, whether it runs")
    for_each: str | None = Field(
        None,
        max_length=400,
        description='"${step.result.key}": run once per item of that list (at most 1,000), each run\'s '
        'payload reading its item as "${item}" or "${item.key}"; steps after it get {"items": [...]}',
    )
    max_retries: int = Field(DEFAULT_MAX_RETRIES, ge=0, le=20)
    timeout_ms: int = Field(DEFAULT_TIMEOUT_MS, ge=100, le=24 * 3600 * 1000)
    priority: int = Field(DEFAULT_PRIORITY, ge=0, le=10)


class WorkflowIn(ApiModel):
    name: str = Field(min_length=1, max_length=200)
    steps: list[StepIn] = Field(min_length=1)
    type: TaskType = Field(
        TaskType.ONE_TIME,
        description="one_time (runs now), delayed (at scheduledAt) or recurring (a run of its steps at "
        "each of cron's moments)",
    )
    scheduled_at: datetime | None = Field(None, description="delayed: when it starts (ISO 8601, future)")
    cron: str | None = Field(None, max_length=120, description="recurring: 5 fields, or 6 with seconds last")
    timezone: str = Field(DEFAULT_TIMEZONE, max_length=64, description="the zone cron reads the clock in")
