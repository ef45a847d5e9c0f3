"""Sessions: password and Google logins, access tokens, refresh-token rotation, logout."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import structlog
from jobyard_libs.accounts import TokenPair
from jobyard_libs.audit import AuditAction, AuditLog
from jobyard_libs.auth import Principal
from jobyard_libs.documents import Oid
from jobyard_libs.errors import Forbidden, JobyardError, NotFoundError, Unauthorized

from jobyard_auth.keystore import KeyStore
from jobyard_auth.sessions.documents import RefreshToken
from jobyard_auth.sessions.google import GoogleVerifier
from jobyard_auth.sessions.login_throttle import LoginThrottle
from jobyard_auth.sessions.metrics import LOGINS, REFRESH_REUSE, TOKENS_ISSUED
from jobyard_auth.sessions.repository import RefreshTokenRepository
from jobyard_auth.settings import AuthSettings
from jobyard_auth.users.documents import User
from jobyard_auth.users.service import UserService

log = structlog.get_logger(__name__)


class WrongCredentials(Unauthorized):
    code, message = "wrong_credentials", "wrong email or password"


class InvalidRefreshToken(Unauthorized):
    code, message = "invalid_refresh_token", "refresh token is invalid, expired or revoked"


class AccountDeactivated(Forbidden):
    code, message = "account_deactivated", "this account is deactivated"


class SignInLocked(Forbidden):
    code = "sign_in_locked"
    message = (
        "too many failed sign-ins: this account's password alone no longer signs in; ask an admin to unlock it "
        "(or sign in with Google, if linked)"
    )


class GoogleSignInDisabled(NotFoundError):
    code, message = "google_sign_in_disabled", "Google sign-in is not configured"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionService:
    def __init__(
        self,
        *,
        settings: AuthSettings,
        keystore: KeyStore,
        users: UserService,
        refresh_tokens: RefreshTokenRepository,
        throttle: LoginThrottle,
        google: GoogleVerifier | None,
        audit: AuditLog,
    ) -> None:
        self.audit = audit
        self.settings = settings
        self.keystore = keystore
        self.users = users
        self.refresh_tokens = refresh_tokens
        self.throttle = throttle
        self.google = google

    async def login(self, email: str, password: str, client_ip: str) -> TokenPair:
        with counted_login("password"):
            return await self._login(email, password, client_ip)

    async def _login(self, email: str, password: str, client_ip: str) -> TokenPair:
        email = email.strip().lower()
        await self.throttle.reserve(email, client_ip)  # counted as failed until it succeeds
        user = await self.users.by_email(email)
        if user is not None and user.sign_in_locked:  # the password is not even checked
            await self._failed(str(user.id), "sign_in_locked")
            raise SignInLocked()
        verified = await self.users.passwords.verify(password, user.password_hash if user else None)
        if not verified or user is None:
            if user is not None:
                await self.users.sign_in_failed(user)
            await self._failed(str(user.id) if user else None, "wrong_credentials")
            raise WrongCredentials()
        if not user.active:
            await self._failed(str(user.id), "account_deactivated")
            raise AccountDeactivated()
        await self.throttle.succeeded(email, client_ip)
        await self.users.sign_in_succeeded(user, password)
        return await self._signed_in(user, "password")

    async def _failed(self, user_id: str | None, reason: str) -> None:
        log.info("login_failed", reason=reason)
        await self.audit.record(
            AuditAction.SIGN_IN_FAILED,
            actor_id=user_id,
            outcome="failure",
            reason=reason,
            account="known" if user_id else "unknown",
        )

    async def _signed_in(self, user: User, method: str) -> TokenPair:
        log.info("login_succeeded", user_id=str(user.id), method=method)
        await self.audit.record(AuditAction.SIGN_IN, actor_id=str(user.id), method=method)
        return await self._issue(user, family_id=uuid.uuid4().hex, grant=method)

    async def login_with_google(self, id_token: str, password: str | None = None) -> TokenPair:
        with counted_login("google"):
            return await self._login_with_google(id_token, password)

    async def _login_with_google(self, id_token: str, password: str | None) -> TokenPair:
        if self.google is None:
            raise GoogleSignInDisabled()
        identity = await self.google.verify(id_token)
        user = await self.users.create_or_link_google(
            sub=identity.sub, email=identity.email, name=identity.name, password=password
        )
        if not user.active:
            await self._failed(str(user.id), "account_deactivated")
            raise AccountDeactivated()
        return await self._signed_in(user, "google")

    async def link_google(self, principal: Principal, id_token: str) -> User:
        """The signed-in person links the Google identity of ``id_token`` to their account."""
        if self.google is None:
            raise GoogleSignInDisabled()
        identity = await self.google.verify(id_token)
        return await self.users.link_google(principal, identity.sub)

    async def refresh(self, refresh_token: str) -> TokenPair:
        token_hash = hash_token(refresh_token)
        record = await self.refresh_tokens.rotate(token_hash)
        if record is None:
            stale = await self.refresh_tokens.get(token_hash)
            if stale is not None and stale.rotated_at is not None and stale.revoked_at is None:
                revoked = await self.refresh_tokens.revoke_family(stale.family_id)
                log.warning("refresh_token_reuse", user_id=str(stale.user_id), revoked_tokens=revoked)
                REFRESH_REUSE.inc()
            raise InvalidRefreshToken()
        user = await self.users.get(record.user_id)
        started = record.family_started_at or record.created_at
        ended = started + timedelta(seconds=self.settings.session_max_lifetime_seconds) <= datetime.now(UTC)
        if not user.active or ended:  # a session ends however often it is refreshed
            await self.refresh_tokens.revoke_family(record.family_id)
            raise InvalidRefreshToken()
        return await self._issue(user, family_id=record.family_id, grant="refresh", family_started_at=started)

    async def logout(self, refresh_token: str) -> None:
        record = await self.refresh_tokens.get(hash_token(refresh_token))
        if record is not None:
            await self.refresh_tokens.revoke_family(record.family_id)

    async def revoke_all(self, user_id: Oid) -> int:
        """Every session of the user ends (their refresh tokens); how many tokens."""
        return await self.refresh_tokens.revoke_user(user_id)

    def access_token(self, user: User) -> str:
        now = datetime.now(UTC)
        return self.keystore.sign(
            {
                "iss": self.settings.jwt_issuer,
                "aud": self.settings.jwt_audience,
                "sub": str(user.id),
                "role": user.role.value,
                "iat": now,
                "nbf": now,
                "exp": now + timedelta(seconds=self.settings.access_token_ttl_seconds),
                "jti": uuid.uuid4().hex,
            }
        )

    async def _issue(
        self, user: User, *, family_id: str, grant: str, family_started_at: datetime | None = None
    ) -> TokenPair:
        TOKENS_ISSUED.labels(grant).inc()
        await self.users.publish_rights(user)  # the mirror every service checks rights against
        refresh_token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        started = family_started_at or now
        session_end = started + timedelta(seconds=self.settings.session_max_lifetime_seconds)
        expires_at = min(now + timedelta(seconds=self.settings.refresh_token_ttl_seconds), session_end)
        ttl = max(0, int((expires_at - now).total_seconds()))
        await self.refresh_tokens.insert(
            RefreshToken(
                id=hash_token(refresh_token),
                family_id=family_id,
                family_started_at=started,
                user_id=user.id,
                expires_at=expires_at,
            )
        )
        return TokenPair(
            access_token=self.access_token(user),
            refresh_token=refresh_token,
            expires_in=self.settings.access_token_ttl_seconds,
            refresh_expires_in=ttl,
        )


@contextmanager
def counted_login(method: str) -> Iterator[None]:
    """Count a sign-in by its result: succeeded, or the refusing error's code."""
    try:
        yield
    except JobyardError as error:
        LOGINS.labels(method, error.code).inc()
        raise
    LOGINS.labels(method, "succeeded").inc()
