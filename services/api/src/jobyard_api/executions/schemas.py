from __future__ import annotations

from jobyard_libs.schemas import ApiModel
from jobyard_libs.tasks.models import ExecutionStatus
from jobyard_libs.tasks.replies import BulkAction
from pydantic import AwareDatetime, Field


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
