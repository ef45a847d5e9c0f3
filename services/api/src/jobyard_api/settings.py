"""The api service's settings (``JOBYARD_`` prefix)."""

from __future__ import annotations

from jobyard_libs.imports.settings import ImportSettings
from jobyard_libs.settings import TokenVerificationSettings
from jobyard_libs.tasks.settings import TaskSettings
from pydantic import Field


class ApiSettings(TokenVerificationSettings, ImportSettings, TaskSettings):
    task_payload_max_bytes: int = Field(
        64 * 1024, ge=256, description="Largest task payload accepted (JSON bytes)."
    )
    task_submit_rate_per_minute: int = Field(
        600, ge=1, description="Tasks one user may submit per minute (a batch counts each task)."
    )
    task_batch_max: int = Field(
        1000, ge=1, le=10_000, description="Tasks one POST /api/v1/tasks:batch may hold."
    )
