"""The auth service's settings (``JOBYARD_`` prefix), on top of the shared base."""

from __future__ import annotations

from pathlib import Path

from jobyard_libs.settings import Environment, HttpServiceSettings
from pydantic import Field, SecretStr, model_validator

WEAK_PASSWORDS = {"admin", "password", "changeme", "change-me", "jobyard", "secret"}


class AuthSettings(HttpServiceSettings):
    port: int = Field(
        8001, description="Port an HTTP service listens on (auth 8001, api 8000, monitor 8002)."
    )
    jwt_issuer: str = Field("jobyard-auth", description="`iss` of the tokens auth issues.")
    jwt_audience: str = Field("jobyard", description="`aud` of the tokens auth issues.")
    access_token_ttl_seconds: int = Field(900, ge=60, description="Access token lifetime.")
    refresh_token_ttl_seconds: int = Field(
        7 * 24 * 3600, ge=300, description="Refresh token lifetime (each use rotates it)."
    )
    signing_keys_dir: Path = Field(
        Path(".data/auth-keys"),
        description="Folder of PEM private keys (<kid>.pem, Ed25519 or RSA) tokens are signed with.",
    )
    signing_key_id: str | None = Field(
        None, description="kid that signs new tokens; default: the last kid in sort order."
    )
    login_max_failures_per_account: int = Field(
        5, ge=1, description="Failed logins per account within the window before 429."
    )
    login_max_failures_per_ip: int = Field(
        20, ge=1, description="Failed logins per client IP within the window before 429."
    )
    login_failure_window_seconds: int = Field(
        900, ge=1, description="Window over which failed logins are counted."
    )
    google_client_id: str | None = Field(
        None,
        description="OAuth client id Google id_tokens must be issued for; unset disables Google sign-in.",
    )
    google_issuers: list[str] = Field(
        ["https://accounts.google.com", "accounts.google.com"],
        description="Accepted `iss` values of Google id_tokens (JSON list).",
    )
    google_jwks_url: str = Field(
        "https://www.googleapis.com/oauth2/v3/certs", description="JWKS of the Google issuer."
    )
    admin_email: str = Field(
        "admin@example.com",
        description="Email of the first admin (`jobyard-auth bootstrap-admin`).",
    )
    admin_password: SecretStr | None = Field(
        None, description="Password of the first admin; generated and printed when unset."
    )

    @model_validator(mode="after")
    def _no_placeholders_in_production(self) -> AuthSettings:
        if self.environment is Environment.PRODUCTION and self.admin_password is not None:
            value = self.admin_password.get_secret_value()
            if value.lower() in WEAK_PASSWORDS or len(value) < 12:
                raise ValueError("JOBYARD_ADMIN_PASSWORD is a placeholder or too short for production")
        return self
