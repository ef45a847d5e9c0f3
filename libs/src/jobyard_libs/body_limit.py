"""Bound what a caller can make a service hold: request bodies larger than the limit get 413.

A declared ``Content-Length`` over the limit is refused before anything is read; a body
sent without one (chunked) is counted as it streams and cut off at the limit. Routes that
legitimately take more (a batch of tasks) get their own limit by path prefix. A body sent
with a ``Content-Encoding`` (gzip...) is refused with 415: no service decodes one, so its
limit is always the limit of what is parsed, never of a compressed stand-in.

Usage
-----

::

    app.add_middleware(BodyLimit, max_bytes=1_048_576, routes={"/api/v1/tasks:batch": 16_777_216})
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobyard_libs.errors import error_body


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` mid-body; an HTTPException so that FastAPI's body parsing
    lets it through as a 413 (it turns other errors into 400s)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


def _encoded(encoding: bytes) -> JSONResponse:
    return JSONResponse(
        error_body(
            "unsupported_content_encoding",
            f"request bodies are not decoded: send them without Content-Encoding {encoding[:50].decode('latin-1')!r}",
            "Content-Encoding",
        ),
        status_code=415,
    )


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        error_body("body_too_large", f"the request body is larger than {limit} bytes"), status_code=413
    )


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int, routes: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # longest prefix first, so /api/v1/tasks:batch wins over /api/v1/tasks
        self.routes = sorted((routes or {}).items(), key=lambda item: -len(item[0]))

    def limit_for(self, path: str) -> int:
        return next((limit for prefix, limit in self.routes if path.startswith(prefix)), self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(str(scope["path"]))
        headers = dict(scope.get("headers", []))
        encoding = headers.get(b"content-encoding", b"identity").strip().lower()
        if encoding not in (b"", b"identity"):
            await _encoded(encoding)(scope, receive, send)
            return
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(limit)(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked_send)
        except BodyTooLarge:
            if not started:
                await _too_large(limit)(scope, receive, send)
