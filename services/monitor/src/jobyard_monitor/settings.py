"""The monitor's settings (``JOBYARD_`` prefix)."""

from __future__ import annotations

from jobyard_libs.queue.contracts import Queue
from jobyard_libs.settings import TokenVerificationSettings
from pydantic import Field


class MonitorSettings(TokenVerificationSettings):
    port: int = Field(
        8002, description="Port an HTTP service listens on (auth 8001, api 8000, monitor 8002, console 8080)."
    )
    monitor_refresh_seconds: float = Field(
        5.0,
        gt=0,
        description="How often the monitor reads queue depth (a scrape only reads the last reading).",
    )
    monitor_queues: list[Queue] = Field(
        default_factory=lambda: list(Queue), description="Queues the monitor watches."
    )
    monitor_task_window_seconds: int = Field(
        300, ge=10, description="Window of the task stats: executions completed in the last N seconds."
    )
    monitor_feed_stale_seconds: int = Field(
        3 * 3600,
        ge=60,
        description="A feed none of whose imports finished (a parse or a 304) for this long is 'stale': "
        "the hourly import is not reaching it.",
    )
