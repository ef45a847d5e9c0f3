"""The console service: pages rendered on the server, htmx for partial updates.

It is a backend-for-frontend: the browser talks only to the console (one origin, no
token in the page), the console talks to auth, api and monitor with the session's token.
Every answer carries a strict Content-Security-Policy (``default-src 'self'``, no inline
script or style), and every state-changing form carries the session's CSRF token.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from urllib.parse import quote

import httpx
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jobyard_libs.body_limit import BodyLimit
from jobyard_libs.docs import install_docs
from jobyard_libs.health import health_router
from jobyard_libs.metrics import HttpMetricsMiddleware, metrics_endpoint
from jobyard_libs.redis_client import RedisKeys, create_redis_client
from jobyard_libs.request_id import RequestIdMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobyard_console.pages import (
    admin,
    dead_letters,
    executions,
    google,
    imports,
    jobs,
    live,
    overview,
    signin,
    tasks,
    workers,
    workflows,
)
from jobyard_console.sessions import SessionStore
from jobyard_console.settings import ConsoleSettings
from jobyard_console.upstream import SessionExpired, Upstream, UpstreamError
from jobyard_console.web import CsrfRefused, Forbidden, SignInRequired, error_page, safe_next, shown

log = structlog.get_logger(__name__)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The API docs pages (Swagger UI, ReDoc) inject styles and run a worker from a blob:
# their own, looser policy; they show no user data and send no credentials.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """The same headers on every answer, pages and errors alike; pages are never cached; each
    answer says how long the console took (``Server-Timing``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")
        docs = scope["path"].startswith(("/docs", "/redoc"))
        started = time.perf_counter()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(SECURITY_HEADERS)
                headers.append((b"content-security-policy", (DOCS_CSP if docs else CSP).encode()))
                # the time the console spent on the page, api calls included (make bench reads it)
                spent = (time.perf_counter() - started) * 1000
                headers.append((b"server-timing", f"app;dur={spent:.1f}".encode()))
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(settings: ConsoleSettings | None = None) -> FastAPI:
    settings = settings or ConsoleSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = create_redis_client(settings)
        app.state.settings = settings
        app.state.redis = redis
        app.state.sessions = SessionStore(
            redis, RedisKeys(settings.redis_key_prefix), settings.console_session_seconds
        )
        app.state.upstream = Upstream(settings, app.state.sessions)
        try:
            yield
        finally:
            await app.state.upstream.aclose()
            await redis.aclose()

    async def redis_ready(request: Request) -> object:
        return await request.app.state.redis.ping()

    async def api_ready(request: Request) -> object:
        answer = await request.app.state.upstream.client.get(
            settings.console_api_url.rstrip("/") + "/healthz"
        )
        return answer.raise_for_status()

    app = FastAPI(
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        title="Jobyard console",
        version="0.1.0",
    )
    install_docs(app, title="Jobyard console")
    app.add_middleware(BodyLimit, max_bytes=settings.http_max_body_bytes)
    app.add_middleware(HttpMetricsMiddleware, service="console")
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health_router({"redis": redis_ready, "api": api_ready}))
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    static = resources.files("jobyard_console") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(
            str(resources.files("jobyard_libs") / "static" / "favicon.svg"), media_type="image/svg+xml"
        )

    for module in (
        signin,
        google,
        overview,
        imports,
        jobs,
        tasks,
        executions,
        dead_letters,
        workers,
        workflows,
        admin,
        live,
    ):
        app.include_router(module.router)
    _install_error_pages(app)
    return app


def _install_error_pages(app: FastAPI) -> None:
    """Errors are pages (or, for htmx, a fragment): never a traceback, never a blank page."""

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        target = "/sign-in?next=" + quote(safe_next(exc.next_path), safe="")
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(SessionExpired)
    async def expired(request: Request, exc: Exception) -> Response:
        return await sign_in_first(request, SignInRequired(request.url.path))

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Exception) -> Response:
        return error_page(request, 403, "Not allowed", "This page is for administrators.")

    @app.exception_handler(CsrfRefused)
    async def csrf(request: Request, exc: Exception) -> Response:
        return error_page(
            request,
            403,
            "Form expired",
            "The form was not sent from this session; reload the page and try again.",
        )

    @app.exception_handler(UpstreamError)
    async def upstream(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, UpstreamError)
        status = exc.status if exc.status in (403, 404, 409, 422, 429, 503) else 502
        titles = {403: "Not allowed", 404: "Not found", 429: "Slow down", 503: "Unavailable"}
        return error_page(request, status, titles.get(status, "Something went wrong"), shown(exc))

    @app.exception_handler(httpx.HTTPError)
    async def unreachable(request: Request, exc: Exception) -> Response:
        log.warning("console_upstream_unreachable", error=f"{type(exc).__name__}: {exc}"[:300])
        return error_page(
            request, 503, "Unavailable", "A Jobyard service does not answer; try again shortly."
        )

    @app.exception_handler(RequestValidationError)
    async def incomplete(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        fields = ", ".join(str(e.get("loc", ("", "?"))[-1]) for e in exc.errors())
        return error_page(request, 422, "Incomplete form", f"Check these fields and send it again: {fields}.")

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> Response:
        return error_page(request, 404, "Not found", "There is no such page.")
