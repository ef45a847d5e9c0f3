"""Calls from the console to auth, api and monitor, with the signed-in user's token.

Every page goes through :class:`Upstream`: it adds the session's access token, refreshes
it once when the api says it expired (the new pair is saved in the session), forwards the
browser's address (so the auth service throttles per person, not per console pod) and
the request id, and turns an error answer into :class:`UpstreamError` carrying the api's
JSON error (code, message, field) for the page to show beside the field it names.

A dependency's hiccup is not a sign-out: only the auth service's *refusal* of a refresh
(4xx) ends a session. A refresh that meets a 5xx or no answer is tried once more, then
reported as a 503 ("unavailable, retrying"), with the session kept; a read (GET) that
meets one is tried once more too (reads are safe to repeat).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import httpx
import structlog
from jobyard_libs.accounts import TokenPair
from pydantic import BaseModel, ValidationError

from jobyard_console.sessions import Session, SessionStore
from jobyard_console.settings import ConsoleSettings

log = structlog.get_logger(__name__)
Service = Literal["auth", "api", "monitor"]
RETRY_AFTER_SECONDS = 0.3  # one more try of a read or a refresh that met a hiccup
TRANSIENT = frozenset({502, 503, 504})
M = TypeVar("M", bound=BaseModel)


@dataclass
class UpstreamError(Exception):
    status: int
    code: str
    message: str
    field: str | None = None
    details: tuple[dict[str, Any], ...] = ()
    retry_after: str | None = None

    @classmethod
    def of(cls, response: httpx.Response) -> UpstreamError:
        try:
            error = response.json().get("error") or {}
        except ValueError:
            error = {}
        return cls(
            status=response.status_code,
            code=str(error.get("code") or "upstream_error"),
            message=str(error.get("message") or f"the service answered {response.status_code}"),
            field=error.get("field"),
            details=tuple(error.get("details") or ()),
            retry_after=response.headers.get("retry-after"),
        )

    def field_errors(self) -> dict[str, str]:
        """Field → message, for the form to show beside each field."""
        found = {str(d.get("field")): str(d.get("message")) for d in self.details if d.get("field")}
        if self.field and self.field not in found:
            found[self.field] = self.message
        return found


REFRESH_WAIT_SECONDS = 10.0  # the longest a request waits for another's token refresh


class SessionExpired(Exception):
    """The refresh token is gone or refused: the browser signs in again."""


@dataclass
class Caller:
    """Who a call is made for: the browser's address and request id, and its session if any."""

    client_ip: str
    request_id: str
    session_id: str | None = None
    session: Session | None = None


class Upstream:
    def __init__(
        self,
        settings: ConsoleSettings,
        sessions: SessionStore,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.sessions = sessions
        self.bases: dict[Service, str] = {
            "auth": settings.console_auth_url.rstrip("/"),
            "api": settings.console_api_url.rstrip("/"),
            "monitor": settings.console_monitor_url.rstrip("/"),
        }
        timeout = httpx.Timeout(settings.console_upstream_timeout_seconds, connect=3.0)
        # never follows redirects, never uses proxy variables: the three bases are the only places it goes
        self.client = httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, trust_env=False, transport=transport
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def _headers(self, caller: Caller, token: str | None) -> dict[str, str]:
        headers = {"X-Forwarded-For": caller.client_ip, "X-Request-ID": caller.request_id}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def anonymous(
        self,
        caller: Caller,
        method: str,
        service: Service,
        path: str,
        *,
        json: Any = None,
        token: str | None = None,
    ) -> Any:
        """A call outside a session (sign-in, registration; ``token``: the one sign-in just got)."""
        response = await self.client.request(
            method, self.bases[service] + path, json=json, headers=self._headers(caller, token)
        )
        return self._answer(response)

    async def call(
        self,
        caller: Caller,
        method: str,
        service: Service,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """The JSON answer (None for 204); UpstreamError for 4xx/5xx; SessionExpired."""
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        url = self.bases[service] + path

        async def send() -> httpx.Response:
            headers = self._headers(caller, self._session(caller).access_token)
            if method not in ("GET", "HEAD"):
                return await self.client.request(method, url, json=json, params=clean, headers=headers)
            return await _twice(lambda: self.client.request(method, url, params=clean, headers=headers))

        response = await send()
        if response.status_code == 401:
            await self._refresh(caller)
            response = await send()
            if response.status_code == 401:
                raise SessionExpired
        return self._answer(response)

    @asynccontextmanager
    async def stream(
        self, caller: Caller, service: Service, path: str, *, read_timeout: float | None = None
    ) -> AsyncIterator[httpx.Response]:
        """A streamed GET (the api's events, an artifact), with the same token handling;
        ``read_timeout``: the longest silence between two reads (a live stream's is longer
        than its keep-alive)."""
        timeout = self.client.timeout if read_timeout is None else httpx.Timeout(read_timeout, connect=3.0)
        for attempt in (1, 2):
            request = self.client.build_request(
                "GET",
                self.bases[service] + path,
                headers=self._headers(caller, self._session(caller).access_token),
                timeout=timeout,
            )
            response = await self.client.send(request, stream=True)
            try:
                if response.status_code == 401 and attempt == 1:
                    await self._refresh(caller)
                    continue
                if response.status_code == 401:
                    raise SessionExpired
                if response.status_code >= 400:
                    await response.aread()
                    raise UpstreamError.of(response)
                yield response
                return
            finally:
                await response.aclose()

    def _session(self, caller: Caller) -> Session:
        if caller.session is None:
            raise SessionExpired
        return caller.session

    async def _refresh(self, caller: Caller) -> None:
        """New tokens for the session, refreshed once however many requests need them.

        A page often sends several requests at once; when the access token has expired they
        all get 401 together. Refresh tokens rotate and a reused one revokes the whole session
        (auth's reuse detection), so only one of them (on any replica: the lock is in Redis)
        asks auth; the others wait for it and take the tokens it stored. Raises
        :class:`SessionExpired` only when auth refuses the refresh token.
        """
        session = self._session(caller)
        if caller.session_id is None:
            await self._refresh_now(caller, session)
            return
        deadline = asyncio.get_running_loop().time() + REFRESH_WAIT_SECONDS
        while True:
            stored = await self.sessions.load(caller.session_id)
            if stored is None:
                raise SessionExpired
            if stored.refresh_token != session.refresh_token:  # another request refreshed it
                caller.session = stored
                return
            lock = await self.sessions.lock_refresh(caller.session_id, REFRESH_WAIT_SECONDS)
            if lock is not None:
                try:
                    # again, under the lock: another request may have refreshed and let go of
                    # it since the look above (its refresh token is spent: reusing it would
                    # revoke the session)
                    stored = await self.sessions.load(caller.session_id)
                    if stored is None:
                        raise SessionExpired
                    if stored.refresh_token != session.refresh_token:
                        caller.session = stored
                        return
                    await self._refresh_now(caller, stored)
                finally:
                    await self.sessions.unlock_refresh(caller.session_id, lock)
                return
            if asyncio.get_running_loop().time() > deadline:
                raise _unavailable("the session's tokens are being renewed")
            await asyncio.sleep(0.05)

    async def _refresh_now(self, caller: Caller, session: Session) -> None:
        try:
            response = await _twice(
                lambda: self.client.post(
                    self.bases["auth"] + "/auth/v1/refresh",
                    json={"refreshToken": session.refresh_token},
                    headers=self._headers(caller, None),
                )
            )
        except httpx.TransportError as exc:
            raise _unavailable(f"the sign-in service does not answer ({type(exc).__name__})") from exc
        if response.status_code in TRANSIENT or response.status_code >= 500:
            log.warning("console_refresh_unavailable", status=response.status_code)
            raise _unavailable(f"the sign-in service answered {response.status_code}")
        if response.status_code != 200:
            log.info("console_refresh_refused", status=response.status_code)
            raise SessionExpired
        pair = read(TokenPair, response.json())
        caller.session = session.model_copy(
            update={"access_token": pair.access_token, "refresh_token": pair.refresh_token}
        )
        if caller.session_id:
            await self.sessions.update(caller.session_id, caller.session)

    @staticmethod
    def _answer(response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise UpstreamError.of(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()


def read(reply: type[M], answer: Any) -> M:
    """A service's answer as the model it answers with; an answer that does not fit (a
    service of another version that dropped a field) is a 502 naming the field, not a page
    that shows blanks."""
    try:
        return reply.model_validate(answer)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "the answer"
        log.warning("console_unreadable_answer", reply=reply.__name__, field=where, problem=problem["msg"])
        raise UpstreamError(
            502, "unreadable_answer", f"a service's answer does not fit: {where}: {problem['msg']}", where
        ) from exc


async def _twice(send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    """``send``, and once more after a moment if it met no answer or a 5xx (for what is safe to repeat)."""
    try:
        response = await send()
        if response.status_code not in TRANSIENT:
            return response
    except httpx.TransportError as exc:
        log.info("console_upstream_retry", error=type(exc).__name__)
    await asyncio.sleep(RETRY_AFTER_SECONDS)
    return await send()


def _unavailable(why: str) -> UpstreamError:
    return UpstreamError(503, "unavailable", f"{why}; you are still signed in, retrying", retry_after="5")
