"""Settings the task engine's services share (api, worker, scheduler)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from jobyard_libs.settings import BaseServiceSettings, Environment

DEV_WEBHOOK_SECRET = "jobyard-development-webhook-secret"  # noqa: S105 - refused outside development


class TaskSettings(BaseServiceSettings):
    task_retry_base_ms: int = Field(
        1000, ge=1, description="First retry delay of a failed task (doubles, with jitter)."
    )
    task_retry_max_ms: int = Field(300_000, ge=1, description="Longest retry delay of a failed task.")
    webhook_secret: SecretStr = Field(
        SecretStr(DEV_WEBHOOK_SECRET),
        description="HMAC secret of task callbacks and completion webhooks; must be set in production.",
    )

    @model_validator(mode="after")
    def _real_secret_in_production(self) -> TaskSettings:
        if self.environment is Environment.PRODUCTION and (
            self.webhook_secret.get_secret_value() == DEV_WEBHOOK_SECRET
            or len(self.webhook_secret.get_secret_value()) < 24
        ):
            raise ValueError("JOBYARD_WEBHOOK_SECRET must be set (24+ characters) in production")
        return self
