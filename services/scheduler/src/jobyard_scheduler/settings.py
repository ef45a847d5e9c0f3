"""The scheduler's settings (``JOBYARD_`` prefix)."""

from __future__ import annotations

from jobyard_libs.imports.settings import ImportSettings


class SchedulerSettings(ImportSettings):
    pass
