"""Dependency aliases so that every route reads in one line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from jobyard_libs.auth import AdminPrincipal, CurrentPrincipal, PersonPrincipal
from jobyard_libs.rate_limit import RateLimiter

from jobyard_auth.api_keys.service import ApiKeyService
from jobyard_auth.keystore import KeyStore
from jobyard_auth.sessions.service import SessionService
from jobyard_auth.settings import AuthSettings
from jobyard_auth.users.service import UserService


@dataclass
class AuthContext:
    settings: AuthSettings
    keystore: KeyStore
    users: UserService
    sessions: SessionService
    api_keys: ApiKeyService
    register_limit: RateLimiter


def _context(request: Request) -> AuthContext:
    context: AuthContext = request.app.state.auth
    return context


async def _users(request: Request) -> UserService:
    return _context(request).users


async def _sessions(request: Request) -> SessionService:
    return _context(request).sessions


async def _api_keys(request: Request) -> ApiKeyService:
    return _context(request).api_keys


async def _keystore(request: Request) -> KeyStore:
    return _context(request).keystore


async def _register_limit(request: Request) -> RateLimiter:
    return _context(request).register_limit


async def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


Users = Annotated[UserService, Depends(_users)]
Sessions = Annotated[SessionService, Depends(_sessions)]
ApiKeys = Annotated[ApiKeyService, Depends(_api_keys)]
Keys = Annotated[KeyStore, Depends(_keystore)]
ClientIp = Annotated[str, Depends(client_ip)]
RegisterLimit = Annotated[RateLimiter, Depends(_register_limit)]
__all__ = ["AdminPrincipal", "CurrentPrincipal", "PersonPrincipal"]
