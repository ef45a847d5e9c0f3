"""The api service's settings (``JOBYARD_`` prefix)."""

from __future__ import annotations

from jobyard_libs.imports.settings import ImportSettings
from jobyard_libs.settings import TokenVerificationSettings


class ApiSettings(TokenVerificationSettings, ImportSettings):
    pass
