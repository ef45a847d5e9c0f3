"""The scheduler's settings (``JOBYARD_`` prefix)."""

from __future__ import annotations

from datetime import datetime

from jobyard_libs.imports.settings import ImportSettings
from jobyard_libs.retention import RetentionSettings
from jobyard_libs.settings import Environment
from jobyard_libs.tasks.settings import TaskSettings
from pydantic import Field, model_validator


class SchedulerSettings(ImportSettings, TaskSettings, RetentionSettings):
    scheduler_tick_seconds: float = Field(1.0, gt=0, description="How often the leader looks for due runs.")
    scheduler_lease_ms: int = Field(
        10_000, ge=100, description="Leadership lease; a dead leader is replaced after it."
    )
    scheduler_misfire_grace_seconds: int = Field(
        60, ge=1, description="A run later than this was missed (no leader): its misfire policy decides."
    )
    scheduler_requeue_after_seconds: int = Field(
        30,
        ge=0,
        description="A pending execution never queued for this long (Redis was down) is queued by the leader.",
    )
    scheduler_sweep_seconds: float = Field(
        10,
        gt=0,
        description="How often the leader looks for executions whose message Redis lost (and for expired artifacts).",
    )
    scheduler_workflow_reconcile_seconds: float = Field(
        10,
        gt=0,
        description="A running workflow nothing moved for this long is advanced by the leader (a process died "
        "between a step's start and its execution's store, or missed a step's end).",
    )
    scheduler_clock_start: datetime | None = Field(
        None, description="Tests and drills only: start the scheduler's clock at this instant (ISO 8601)."
    )
    scheduler_clock_speed: float = Field(
        1.0, gt=0, description="Tests and drills only: how many scheduler seconds pass per real second."
    )
    scheduler_metrics_port: int = Field(
        9192, description="Port `jobyard-scheduler run` serves /metrics on; 0: off."
    )

    @model_validator(mode="after")
    def _real_clock_in_production(self) -> SchedulerSettings:
        """A simulated clock fires runs early, late, or many at once: never in production."""
        simulated = self.scheduler_clock_start is not None or self.scheduler_clock_speed != 1.0
        if simulated and self.environment is Environment.PRODUCTION:
            raise ValueError(
                "JOBYARD_SCHEDULER_CLOCK_START / JOBYARD_SCHEDULER_CLOCK_SPEED are for tests and drills; "
                "unset them in production"
            )
        return self
