"""Request ids: honour an incoming ``X-Request-ID``, make one otherwise, echo it back.

The id is bound to structlog's context for the whole request and kept in a context
variable, so that code enqueuing a message can carry it into the worker's log lines. The
client's address (the connection's, or what a trusted proxy said: uvicorn's
``--forwarded-allow-ips``) is kept the same way, for the audit trail.

Usage
-----

::

    app.add_middleware(RequestIdMiddleware)
    current_request_id()  # inside a request
    # → '6f1c0c3e5e2c4b0e9a1f3d2b7c8e9f00'
"""

from __future__ import annotations

import re
import time
import uuid
from contextvars import ContextVar

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
_VALID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_request_id: ContextVar[str | None] = ContextVar("jobyard_request_id", default=None)
_client_ip: ContextVar[str | None] = ContextVar("jobyard_client_ip", default=None)
log = structlog.get_logger("jobyard.http")


def current_request_id() -> str | None:
    return _request_id.get()


def current_client_ip() -> str | None:
    """The address of the client of the request being served, if any."""
    return _client_ip.get()


def bind_request_id(request_id: str | None) -> None:
    """Outside HTTP (a worker processing a message): the id that follow-up messages carry."""
    _request_id.set(request_id)


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Pure ASGI middleware (no body buffering); logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, HEADER)
        request_id = incoming if incoming and _VALID.match(incoming) else new_request_id()
        token = _request_id.set(request_id)
        client = scope.get("client")
        ip_token = _client_ip.set(str(client[0]) if client else None)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != HEADER.encode()]
                headers.append((HEADER.encode(), request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if scope.get("path") not in ("/healthz", "/readyz", "/metrics"):
                log.info(
                    "request",
                    method=scope.get("method"),
                    path=scope.get("path"),
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )
            structlog.contextvars.unbind_contextvars("request_id")
            _request_id.reset(token)
            _client_ip.reset(ip_token)


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode()
    for key, value in scope.get("headers", []):
        if key.lower() == wanted:
            return str(value.decode("latin-1"))
    return None
