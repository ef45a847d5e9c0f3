"""The auth service's settings (``JOBYARD_`` prefix), on top of the shared base."""

from __future__ import annotations

from pathlib import Path

from jobyard_libs.settings import AuditSettings, Environment, HttpServiceSettings, TaskRightsSettings
from pydantic import Field, SecretStr, model_validator

WEAK_PASSWORDS = {"admin", "password", "changeme", "change-me", "jobyard", "secret"}


class AuthSettings(HttpServiceSettings, AuditSettings, TaskRightsSettings):
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
    login_max_failures_per_client: int = Field(
        5,
        ge=1,
        description="Failed logins for one account from one address before each try must wait (1 s, 2 s, 4 s...).",
    )
    login_max_failures_per_account: int = Field(
        20,
        ge=1,
        description="Failed logins for one account from all addresses before it slows down (never locks).",
    )
    login_max_failures_per_ip: int = Field(
        100, ge=1, description="Failed logins from one address over all accounts before it must wait."
    )
    login_failure_window_seconds: int = Field(
        900, ge=1, description="Window over which failed logins are counted."
    )
    login_max_delay_seconds: int = Field(
        900, ge=1, description="Longest wait imposed on one address (or one account from one address)."
    )
    login_account_max_delay_seconds: int = Field(
        60, ge=1, description="Longest wait imposed on an account under attack from many addresses."
    )
    login_max_consecutive_failures: int = Field(
        100,
        ge=1,
        le=100,
        description="Consecutive failed password sign-ins after which an account's password alone no longer "
        "signs in (an admin unlocks it; sessions already held go on). NIST SP 800-63B 5.2.2: at most 100.",
    )
    register_max_per_hour: int = Field(
        20, ge=1, description="Registrations one client address may make per hour."
    )
    password_hash_concurrency: int = Field(
        2, ge=1, le=64, description="argon2 hashes computed at once (each ~64 MiB); off the event loop."
    )
    password_hash_backlog: int = Field(
        64, ge=0, description="Sign-ins waiting for a hash slot before 503 (Retry-After)."
    )
    session_max_lifetime_seconds: int = Field(
        30 * 24 * 3600,
        ge=300,
        description="A session (refresh-token family) ends this long after its sign-in, however often refreshed.",
    )
    api_key_default_days: int = Field(
        90, ge=1, description="Lifetime of an API key created without expiresInDays."
    )
    api_key_max_days: int = Field(365, ge=1, description="Longest lifetime an API key may be given.")
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
