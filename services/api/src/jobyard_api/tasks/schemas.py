from __future__ import annotations

from datetime import datetime
from typing import Any

from jobyard_libs.schemas import ApiModel
from jobyard_libs.tasks.models import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_PRIORITY,
    DEFAULT_TIMEOUT_MS,
    DEFAULT_TIMEZONE,
    MisfirePolicy,
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


class BatchIn(ApiModel):
    tasks: list[TaskIn] = Field(min_length=1)
