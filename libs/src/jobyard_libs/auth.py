"""Who is calling: access tokens (JWT, verified by JWKS) or API keys.

Credentials are read from ``Authorization: Bearer <jwt>``, ``Authorization: ApiKey <key>``
or ``X-API-Key: <key>`` (a bearer value starting with ``jy_`` is taken as an API key, for
tools that only speak bearer). API keys are checked by an :class:`ApiKeyChecker`: the auth
service looks them up itself; every other service asks the auth service
(:class:`RemoteApiKeyChecker`) and caches the answer for a short while.

Whatever the credential, the caller then runs with their *current* role and activation
(:mod:`jobyard_libs.principals`): a demoted admin or a deactivated user loses those rights
on every service within about a second, not when the token expires; a revoked API key
likewise.

An API key carries **scopes** (:class:`KeyScope`), never more than its creator's role:
``read`` (safe methods only), ``tasks`` (also changes: tasks, executions, dead letters),
``admin`` (also the admin routes, while its owner is an admin). A key never creates or
manages keys. An access token (a person) has whatever their role allows.

The caller is authenticated before a request body is read: :class:`AuthenticateFirst`
(installed by every service) checks the credentials of every request that carries a body,
except on the routes a service declares public (login, register, signed callbacks).

Usage
-----

::

    app.state.authenticator = Authenticator(verifier, RemoteApiKeyChecker(auth_url))
    @router.get("/things")
    async def things(principal: CurrentPrincipal) -> list[Thing]: ...
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Annotated, Any, Protocol

import httpx
import structlog
from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPBearer
from redis.asyncio import Redis
from starlette.types import ASGIApp, Receive, Scope, Send

from jobyard_libs.errors import Forbidden, JobyardError, ServiceUnavailable, Unauthorized, error_body
from jobyard_libs.principals import CallerRights, DirectoryUnavailable, PrincipalDirectory
from jobyard_libs.redis_client import RedisKeys
from jobyard_libs.roles import Role
from jobyard_libs.settings import TokenVerificationSettings
from jobyard_libs.tokens import InvalidToken, JwtVerifier, RemoteJwks

API_KEY_PREFIX = "jy_"
# Service to service only: not under /auth, so the ingress (which routes /auth) never exposes it.
INTROSPECT_PATH = "/internal/v1/api-keys/introspect"
log = structlog.get_logger(__name__)
__all__ = ["Role"]


class AccountInactive(Unauthorized):
    code, message = "account_deactivated", "this account is deactivated"


class KeyScope(StrEnum):
    READ = "read"
    TASKS = "tasks"
    ADMIN = "admin"


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class KeyScopeRefused(Forbidden):
    code = "key_scope"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user through an access token or one of their API keys."""

    subject: str
    role: Role
    via: str  # "access_token" | "api_key"
    credential_id: str | None = None  # the token's jti or the API key's id
    scopes: frozenset[KeyScope] | None = None  # an API key's; None: a person's token (their role's all)

    @property
    def is_admin(self) -> bool:
        """Admin rights now: an admin's token, or an admin's key with the ``admin`` scope."""
        return self.role is Role.ADMIN and (self.scopes is None or KeyScope.ADMIN in self.scopes)

    @property
    def is_key(self) -> bool:
        return self.via == "api_key"

    def check_method(self, method: str) -> None:
        """A read-only key changes nothing."""
        if self.scopes is not None and method not in SAFE_METHODS and self.scopes <= {KeyScope.READ}:
            raise KeyScopeRefused("this API key is read-only (scope 'read'); changes need scope 'tasks'")

    @property
    def scope(self) -> str | None:
        """Whose documents this caller sees: their own (an owner id), or everyone's (``None``)."""
        return None if self.is_admin else self.subject


class ApiKeyChecker(Protocol):
    async def check(self, key: str) -> Principal | None: ...


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    try:
        role = Role(str(claims.get("role")))
    except ValueError as exc:
        raise InvalidToken("token has no valid role") from exc
    return Principal(str(claims["sub"]), role, "access_token", claims.get("jti"))


class RemoteApiKeyChecker:
    """Asks the auth service whether an API key is live; caches answers briefly."""

    def __init__(
        self, auth_url: str, *, cache_seconds: float = 30, client: httpx.AsyncClient | None = None
    ) -> None:
        self.url = auth_url.rstrip("/") + INTROSPECT_PATH
        self.cache_seconds = cache_seconds
        self._client = client or httpx.AsyncClient(timeout=5)
        self._cache: dict[str, tuple[float, Principal]] = {}

    async def check(self, key: str) -> Principal | None:
        digest = hashlib.sha256(key.encode()).hexdigest()
        cached = self._cache.get(digest)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        try:
            response = await self._client.post(self.url, json={"key": key})
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ServiceUnavailable("cannot reach the auth service to check the API key") from exc
        if not body.get("active"):
            self._cache.pop(digest, None)
            return None
        scopes = frozenset(KeyScope(scope) for scope in body.get("scopes") or [])
        principal = Principal(body["subject"], Role(body["role"]), "api_key", body.get("keyId"), scopes)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (time.monotonic() + self.cache_seconds, principal)
        return principal

    async def aclose(self) -> None:
        await self._client.aclose()


class Authenticator:
    def __init__(
        self, verifier: JwtVerifier, api_keys: ApiKeyChecker, rights: CallerRights | None = None
    ) -> None:
        self.verifier = verifier
        self.api_keys = api_keys
        self.rights = rights

    async def authenticate(self, request: Request) -> Principal:
        principal = await self.current(await self._identify(request))
        principal.check_method(request.method)
        return principal

    async def current(self, principal: Principal) -> Principal:
        """The caller with the role and activation they hold now, not when the token was issued
        (and, for an API key, unless it was revoked since)."""
        if self.rights is None:
            return principal
        try:
            if (
                principal.is_key
                and principal.credential_id
                and await self.rights.key_revoked(principal.credential_id)
            ):
                raise Unauthorized("invalid or revoked API key")
            state = await self.rights.state(principal.subject)
        except DirectoryUnavailable as exc:
            if principal.is_admin:  # admin rights are never taken on a token's word alone
                raise ServiceUnavailable("cannot confirm admin rights right now; try again") from exc
            log.warning("rights_unconfirmed", subject=principal.subject, error=str(exc))
            return principal
        if state is None:
            return principal
        if not state.active:
            raise AccountInactive()
        return replace(principal, role=state.role)

    async def _identify(self, request: Request) -> Principal:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        value = value.strip()
        api_key = request.headers.get("x-api-key")
        if scheme.lower() == "apikey" or (scheme.lower() == "bearer" and value.startswith(API_KEY_PREFIX)):
            api_key = value
        if api_key:
            principal = await self.api_keys.check(api_key)
            if principal is None:
                raise Unauthorized("invalid or revoked API key")
            return principal
        if scheme.lower() != "bearer" or not value:
            raise Unauthorized("missing credentials: send 'Authorization: Bearer <token>'")
        return principal_from_claims(await self.verifier.verify(value))


# Declared so that OpenAPI documents both schemes; the Authenticator reads the headers.
_bearer = HTTPBearer(auto_error=False, description="Access token (JWT) or API key")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")


async def current_principal(
    request: Request,
    _b: Annotated[object, Depends(_bearer)] = None,
    _k: Annotated[object, Depends(_api_key)] = None,
) -> Principal:
    known: Principal | None = getattr(request.state, "principal", None)  # AuthenticateFirst's
    if known is not None:
        return known
    authenticator: Authenticator = request.app.state.authenticator
    principal = await authenticator.authenticate(request)
    request.state.principal = principal
    return principal


class AuthenticateFirst:
    """Authenticate every request that carries a body before the body is read.

    FastAPI reads and parses a body before it resolves dependencies, so without this an
    anonymous caller could make a service read (and hold) a body only to refuse it.
    Requests to ``public`` path prefixes (login, register, signed callbacks) pass through;
    their handlers check what they need. The principal is kept for :func:`current_principal`.
    """

    BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, app: ASGIApp, *, public: Sequence[str] = ()) -> None:
        self.app = app
        self.public = tuple(public)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in self.BODY_METHODS
            or str(scope["path"]).startswith(self.public)
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        authenticator: Authenticator | None = getattr(request.app.state, "authenticator", None)
        if authenticator is not None:
            try:
                request.state.principal = await authenticator.authenticate(request)
            except JobyardError as exc:
                response = JSONResponse(
                    error_body(exc.code, exc.message, exc.field),
                    status_code=exc.status_code,
                    headers=exc.headers,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def admin_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if principal.role is Role.ADMIN and not principal.is_admin:
        raise KeyScopeRefused("this API key lacks the 'admin' scope")
    if not principal.is_admin:
        raise Forbidden("admin role required")
    return principal


async def person_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """A person signed in (an access token): what an API key may never do (manage keys, identities)."""
    if principal.is_key:
        raise KeyScopeRefused("API keys cannot create or manage API keys or sign-in identities")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
AdminPrincipal = Annotated[Principal, Depends(admin_principal)]
PersonPrincipal = Annotated[Principal, Depends(person_principal)]


@asynccontextmanager
async def remote_authenticator(
    settings: TokenVerificationSettings, redis: Redis, keys: RedisKeys
) -> AsyncIterator[Authenticator]:
    """How every service but auth trusts callers: the auth service's JWKS and API-key check,
    then the rights the auth service last published (:mod:`jobyard_libs.principals`)."""
    jwks = RemoteJwks(settings.auth_jwks_url, cache_seconds=settings.jwks_cache_seconds)
    api_keys = RemoteApiKeyChecker(settings.auth_url, cache_seconds=settings.api_key_cache_seconds)
    verifier = JwtVerifier(
        jwks, issuer=settings.jwt_issuer, audience=settings.jwt_audience, algorithms=("EdDSA", "RS256")
    )
    rights = PrincipalDirectory(redis, keys, cache_seconds=settings.rights_cache_seconds)
    try:
        yield Authenticator(verifier, api_keys, rights)
    finally:
        await api_keys.aclose()
        await jwks.aclose()
