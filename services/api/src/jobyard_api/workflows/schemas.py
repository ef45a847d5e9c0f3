from __future__ import annotations

from typing import Any

from jobyard_libs.schemas import ApiModel
from jobyard_libs.tasks.models import DEFAULT_MAX_RETRIES, DEFAULT_PRIORITY, DEFAULT_TIMEOUT_MS
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
