"""Console sessions: the tokens stay in Redis, the browser holds an opaque id.

A signed-in browser has one cookie, ``jobyard_session`` (``HttpOnly; Secure;
SameSite=Strict``), holding a random id. Redis keeps, under the id's SHA-256 (a leaked
Redis dump names no live cookie), the access and refresh tokens, who the user is and the
session's CSRF token. Page JavaScript never sees a token: every call to the api is made
by the console with the token from here. Signing out deletes the record and revokes the
refresh token at the auth service.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from jobyard_libs.redis_client import RedisKeys
from pydantic import BaseModel
from redis.asyncio import Redis

COOKIE = "jobyard_session"  # named with cookie_name: __Host-jobyard_session where it is Secure
PRE_COOKIE = "jobyard_presession"  # CSRF token of the sign-in and registration forms (login CSRF)


def cookie_name(name: str, secure: bool) -> str:
    """``__Host-<name>`` for a Secure cookie: the browser then takes it only Secure, for Path=/
    and from this very host (no Domain), so neither a sibling subdomain nor a plain-http page
    can set or overwrite it (session fixation). Over plain http (development, with
    JOBYARD_CONSOLE_COOKIE_SECURE=false) the prefix is not allowed: the bare name."""
    return f"__Host-{name}" if secure else name


class Session(BaseModel):
    access_token: str
    refresh_token: str
    user_id: str
    email: str
    role: str
    csrf: str
    started_at: datetime

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def csrf_matches(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.csrf.encode())


def new_token() -> str:
    return secrets.token_urlsafe(32)


class SessionStore:
    def __init__(self, redis: Redis, keys: RedisKeys, ttl_seconds: int) -> None:
        self.redis, self.keys, self.ttl = redis, keys, ttl_seconds

    def _key(self, session_id: str) -> str:
        return self.keys.key("console", "session", hashlib.sha256(session_id.encode()).hexdigest())

    async def start(
        self, *, access_token: str, refresh_token: str, user_id: str, email: str, role: str
    ) -> str:
        session_id = new_token()
        session = Session(
            access_token=access_token,
            refresh_token=refresh_token,
            user_id=user_id,
            email=email,
            role=role,
            csrf=new_token(),
            started_at=datetime.now(UTC),
        )
        await self.redis.set(self._key(session_id), session.model_dump_json(), ex=self.ttl)
        return session_id

    async def load(self, session_id: str | None) -> Session | None:
        if not session_id or len(session_id) > 100:
            return None
        raw = await self.redis.get(self._key(session_id))
        return Session.model_validate_json(raw) if raw else None

    async def update(self, session_id: str, session: Session) -> None:
        """New tokens after a refresh; the session keeps its end (KEEPTTL)."""
        await self.redis.set(self._key(session_id), session.model_dump_json(), keepttl=True, xx=True)

    async def lock_refresh(self, session_id: str, seconds: float) -> str | None:
        """Become the one refresher of this session's tokens for ``seconds`` (every replica
        sees the lock); a token to release it with, or ``None`` when another holds it."""
        token = secrets.token_hex(8)
        taken = await self.redis.set(
            self._key(session_id) + ":refreshing", token, nx=True, px=int(seconds * 1000)
        )
        return token if taken else None

    async def unlock_refresh(self, session_id: str, token: str) -> None:
        key = self._key(session_id) + ":refreshing"
        if await self.redis.get(key) in (token, token.encode()):
            await self.redis.delete(key)

    async def hold_once(self, session_id: str, value: str, seconds: int = 300) -> None:
        """Something the next page shows once (a new API key, after the redirect that follows
        its creation), then forgets."""
        await self.redis.set(self._key(session_id) + ":once", value, ex=seconds)

    async def take_once(self, session_id: str) -> str | None:
        raw = await self.redis.getdel(self._key(session_id) + ":once")
        return raw.decode() if isinstance(raw, bytes) else raw

    async def end(self, session_id: str) -> Session | None:
        await self.redis.delete(self._key(session_id) + ":once")
        raw = await self.redis.getdel(self._key(session_id))
        return Session.model_validate_json(raw) if raw else None
