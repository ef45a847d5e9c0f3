"""The auth service's application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from jobyard_libs.app import Resources, create_service_app
from jobyard_libs.audit import INDEXES as AUDIT_INDEXES
from jobyard_libs.auth import INTROSPECT_PATH, Authenticator
from jobyard_libs.queue.broker import create_broker
from jobyard_libs.rate_limit import RateLimiter
from jobyard_libs.tokens import JwtVerifier, StaticKeySource

from jobyard_auth import jwks
from jobyard_auth.api_keys import endpoints as api_keys_endpoints
from jobyard_auth.api_keys.repository import INDEXES as API_KEY_INDEXES
from jobyard_auth.api_keys.repository import ApiKeyRepository
from jobyard_auth.api_keys.service import ApiKeyService, LocalApiKeyChecker
from jobyard_auth.deps import AuthContext
from jobyard_auth.keystore import KeyStore
from jobyard_auth.sessions import endpoints as sessions_endpoints
from jobyard_auth.sessions.google import GoogleVerifier
from jobyard_auth.sessions.login_throttle import LoginLimits, LoginThrottle
from jobyard_auth.sessions.repository import INDEXES as SESSION_INDEXES
from jobyard_auth.sessions.repository import RefreshTokenRepository
from jobyard_auth.sessions.service import SessionService
from jobyard_auth.settings import AuthSettings
from jobyard_auth.users import endpoints as users_endpoints
from jobyard_auth.users.repository import INDEXES as USER_INDEXES
from jobyard_auth.users.service import user_service

INDEXES = [*USER_INDEXES, *SESSION_INDEXES, *API_KEY_INDEXES, *AUDIT_INDEXES]
# Bodies read without credentials: these handlers check what they need themselves.
PUBLIC_PATHS = [
    "/auth/v1/login",
    "/auth/v1/register",
    "/auth/v1/refresh",
    "/auth/v1/logout",
    "/auth/v1/google",
    INTROSPECT_PATH,
]


def login_limits(settings: AuthSettings) -> LoginLimits:
    return LoginLimits(
        per_client=settings.login_max_failures_per_client,
        per_account=settings.login_max_failures_per_account,
        per_ip=settings.login_max_failures_per_ip,
        window=settings.login_failure_window_seconds,
        max_delay=settings.login_max_delay_seconds,
        account_max_delay=settings.login_account_max_delay_seconds,
    )


def load_keystore(settings: AuthSettings) -> KeyStore:
    return KeyStore.load(
        settings.signing_keys_dir,
        active_kid=settings.signing_key_id,
        generate_if_empty=settings.is_development,
    )


def create_app(settings: AuthSettings | None = None) -> FastAPI:
    settings = settings or AuthSettings()
    keystore = load_keystore(settings)  # fail at start-up, not at the first login

    @asynccontextmanager
    async def setup(app: FastAPI, resources: Resources) -> AsyncIterator[None]:
        # an admin's change applies to the user's work at once (tasks paused, executions cancelled)
        broker = create_broker(settings)
        users = user_service(settings, resources, broker)
        audit, rights = users.audit, users.rights
        google = (
            GoogleVerifier(
                client_id=settings.google_client_id,
                issuers=settings.google_issuers,
                jwks_url=settings.google_jwks_url,
            )
            if settings.google_client_id
            else None
        )
        sessions = SessionService(
            settings=settings,
            keystore=keystore,
            users=users,
            refresh_tokens=RefreshTokenRepository(resources.db),
            throttle=LoginThrottle(resources.redis, resources.keys, login_limits(settings)),
            google=google,
            audit=audit,
        )
        api_keys = ApiKeyService(
            ApiKeyRepository(resources.db),
            users,
            rights,
            audit,
            default_days=settings.api_key_default_days,
            max_days=settings.api_key_max_days,
        )
        users.revokers = [sessions.revoke_all, api_keys.revoke_user]
        register_limit = RateLimiter(
            resources.redis, resources.keys, "register", limit=settings.register_max_per_hour, window=3600
        )
        app.state.auth = AuthContext(settings, keystore, users, sessions, api_keys, register_limit)
        verifier = JwtVerifier(
            StaticKeySource(keystore.jwks()),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            algorithms=keystore.algorithms,
        )
        # rights from MongoDB on every request: a demoted admin cannot use the old token here
        app.state.authenticator = Authenticator(verifier, LocalApiKeyChecker(api_keys), users)
        try:
            yield
        finally:
            broker.close()
            if google is not None:
                await google.aclose()

    return create_service_app(
        service="auth",
        settings=settings,
        routers=[
            users_endpoints.router,
            sessions_endpoints.router,
            api_keys_endpoints.router,
            api_keys_endpoints.internal_router,
            jwks.router,
        ],
        indexes=INDEXES,
        setup=setup,
        public_paths=PUBLIC_PATHS,
        docs_prefix="/auth",
        title="Jobyard auth",
        version="0.1.0",
    )
