"""The api service's settings (``JOBYARD_`` prefix)."""

from __future__ import annotations

from jobyard_libs.imports.settings import ImportSettings
from jobyard_libs.retention import RetentionSettings
from jobyard_libs.settings import TokenVerificationSettings
from jobyard_libs.tasks.settings import TaskSettings
from pydantic import Field


class ApiSettings(TokenVerificationSettings, ImportSettings, TaskSettings, RetentionSettings):
    task_payload_max_bytes: int = Field(
        64 * 1024, ge=256, description="Largest task payload accepted (JSON bytes)."
    )
    task_submit_rate_per_minute: int = Field(
        600, ge=1, description="Tasks one user may submit per minute (a batch counts each task)."
    )
    workflow_max_steps: int = Field(
        100, ge=1, le=10_000, description="Most steps one workflow may have (POST /api/v1/workflows)."
    )
    task_batch_max: int = Field(
        1000, ge=1, le=10_000, description="Tasks one POST /api/v1/tasks:batch may hold."
    )
    task_batch_max_body_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description="Largest body of POST /api/v1/tasks:batch (other routes: JOBYARD_HTTP_MAX_BODY_BYTES).",
    )
    callback_max_body_bytes: int = Field(
        256 * 1024, ge=1024, description="Largest body of a task callback (POST /api/v1/callbacks/{id})."
    )
    sse_max_streams_per_user: int = Field(
        5,
        ge=1,
        description="Live-update streams (GET /api/v1/events) one user may hold open per api process.",
    )
    sse_keepalive_seconds: float = Field(
        15,
        gt=0,
        le=60,
        description="A live-update stream sends a comment this often when nothing happens (and re-checks the "
        "subscriber's rights): keep it shorter than every read timeout between it and the browser.",
    )
    sse_max_streams: int = Field(
        1000,
        ge=1,
        description="Live-update streams one api process holds at most (they share one Redis subscription).",
    )
