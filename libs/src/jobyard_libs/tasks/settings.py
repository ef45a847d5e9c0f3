"""Settings the task engine's services share (api, worker, scheduler)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from jobyard_libs.settings import EgressSettings, Environment, TaskRightsSettings
from jobyard_libs.signing import derived_secret

DEV_WEBHOOK_SECRET = "jobyard-development-webhook-secret"  # noqa: S105 - refused outside development


class TaskSettings(EgressSettings, TaskRightsSettings):
    task_retry_base_ms: int = Field(
        1000, ge=1, description="First retry delay of a failed task (doubles, with jitter)."
    )
    task_retry_max_ms: int = Field(300_000, ge=1, description="Longest retry delay of a failed task.")
    webhook_secret: SecretStr = Field(
        SecretStr(DEV_WEBHOOK_SECRET),
        description="Master secret the per-task webhook and per-execution callback secrets are derived from; "
        "never shown to users; must be set in production.",
    )

    task_stale_grace_seconds: float = Field(
        60,
        gt=0,
        description="An attempt still 'processing' this long past its timeout had its worker die: it is "
        "counted as failed and retried (or dead); the scheduler's leader queues it again if its message is gone.",
    )
    artifact_ttl_seconds: int = Field(
        7 * 24 * 3600, ge=60, description="How long files executions produce (CSV exports) are kept."
    )
    export_max_rows: int = Field(
        100_000, ge=1, le=10_000_000, description="Most rows one export-jobs-csv execution writes."
    )

    def callback_secret(self, execution_id: str) -> str:
        """What signs the callback of one webhook-callback execution (its owner's alone)."""
        return derived_secret(self.webhook_secret.get_secret_value(), "callback", execution_id)

    def task_webhook_secret(self, task_id: str) -> str:
        """What signs one task's completion webhooks and notify calls (its owner's alone)."""
        return derived_secret(self.webhook_secret.get_secret_value(), "webhook", task_id)

    @model_validator(mode="after")
    def _real_secret_in_production(self) -> TaskSettings:
        if self.environment is Environment.PRODUCTION and (
            self.webhook_secret.get_secret_value() == DEV_WEBHOOK_SECRET
            or len(self.webhook_secret.get_secret_value()) < 24
        ):
            raise ValueError("JOBYARD_WEBHOOK_SECRET must be set (24+ characters) in production")
        return self
