"""The console's settings (``JOBYARD_`` prefix).

The console never touches MongoDB (the MongoDB settings it inherits are unused, and its
NetworkPolicy does not reach the database): it talks to Redis (sessions) and to the auth,
api and monitor services.
"""

from __future__ import annotations

from jobyard_libs.settings import Environment, HttpServiceSettings
from pydantic import Field, SecretStr, model_validator


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
        description="Mark the session cookie `Secure` and name it `__Host-jobyard_session` (browsers keep it "
        "on https and on localhost, and let no subdomain or http page set it); turn off only for plain http "
        "on another host name, never in production.",
    )
    console_google_client_id: str | None = Field(
        None,
        description="OAuth client id of the console's “Sign in with Google” (the auth service's "
        "JOBYARD_GOOGLE_CLIENT_ID must be the same); shown when it and its secret are set.",
    )
    console_google_client_secret: SecretStr | None = Field(None, description="That OAuth client's secret.")
    console_google_authorize_url: str = Field(
        "https://accounts.google.com/o/oauth2/v2/auth", description="Google's authorization endpoint."
    )
    console_google_token_url: str = Field(
        "https://oauth2.googleapis.com/token", description="Google's token endpoint (called by the console)."
    )
    console_public_url: str | None = Field(
        None,
        description="The console's URL as browsers reach it; Google's redirect URI is "
        "<this>/sign-in/google/callback (register it with the client). Unset: each request's own.",
    )
    console_upstream_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Longest wait for an answer from auth, api or monitor."
    )
    console_live_read_timeout_seconds: float = Field(
        45.0,
        gt=0,
        le=600,
        description="Longest silence on the api's live stream before the console reconnects it: keep it "
        "above the api's JOBYARD_SSE_KEEPALIVE_SECONDS (15), so a quiet stream never times out.",
    )

    @property
    def google_sign_in(self) -> bool:
        return bool(self.console_google_client_id and self.console_google_client_secret)

    @model_validator(mode="after")
    def _secure_cookies_in_production(self) -> ConsoleSettings:
        if self.environment is Environment.PRODUCTION and not self.console_cookie_secure:
            raise ValueError(
                "JOBYARD_CONSOLE_COOKIE_SECURE=false would send the session cookie over plain http"
            )
        return self
