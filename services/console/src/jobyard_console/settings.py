"""The console's settings (``JOBYARD_`` prefix).

The console never touches MongoDB (the MongoDB settings it inherits are unused, and its
NetworkPolicy does not reach the database): it talks to Redis (sessions) and to the auth,
api and monitor services.
"""

from __future__ import annotations

from jobyard_libs.settings import Environment, HttpServiceSettings
from pydantic import Field, model_validator


class ConsoleSettings(HttpServiceSettings):
    port: int = Field(8080, description="Port the console listens on.")
    console_auth_url: str = Field(
        "http://127.0.0.1:8001", description="Base URL of the auth service, from the console."
    )
    console_api_url: str = Field(
        "http://127.0.0.1:8000", description="Base URL of the api, from the console."
    )
    console_monitor_url: str = Field(
        "http://127.0.0.1:8002", description="Base URL of the monitor, from the console."
    )
    console_session_seconds: int = Field(
        8 * 3600, ge=300, le=30 * 24 * 3600, description="A console session ends this long after sign-in."
    )
    console_cookie_secure: bool = Field(
        True,
        description="Mark the session cookie `Secure` (browsers keep it on https and on localhost); "
        "turn off only for plain http on another host name, never in production.",
    )
    console_upstream_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Longest wait for an answer from auth, api or monitor."
    )

    @model_validator(mode="after")
    def _secure_cookies_in_production(self) -> ConsoleSettings:
        if self.environment is Environment.PRODUCTION and not self.console_cookie_secure:
            raise ValueError(
                "JOBYARD_CONSOLE_COOKIE_SECURE=false would send the session cookie over plain http"
            )
        return self
