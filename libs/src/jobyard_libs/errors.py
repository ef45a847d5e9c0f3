"""One error shape for every service.

Every error a client sees is ``{"error": {"code": ..., "message": ..., "field": ...}}``.
Domain errors subclass :class:`JobyardError`; :func:`install_error_handlers` turns them,
FastAPI's validation errors and any unexpected exception into that shape. No stack trace
ever reaches a client: unexpected errors are logged with it and answered with a bare 500.

Examples
--------
>>> class TaskNotFound(NotFoundError):
...     message = "task not found"
>>> TaskNotFound().status_code
404
"""

from __future__ import annotations

from typing import Any, TypeVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from jobyard_libs.outages import OUTAGES, dependency_of

log = structlog.get_logger(__name__)
T = TypeVar("T")


class JobyardError(Exception):
    """Base of every error a client may see."""

    status_code: int = 400
    code: str = "bad_request"
    message: str = "bad request"

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.field = field
        self.headers = headers or {}
        super().__init__(self.message)


class ValidationFailed(JobyardError):
    status_code, code, message = 422, "validation_error", "invalid input"


class Unauthorized(JobyardError):
    status_code, code, message = 401, "unauthorized", "authentication required"

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        super().__init__(message, field=field, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(JobyardError):
    status_code, code, message = 403, "forbidden", "not allowed"


class NotFoundError(JobyardError):
    status_code, code, message = 404, "not_found", "not found"


def found(value: T | None, missing: type[JobyardError]) -> T:
    """``value``, or the error ``missing`` (usually a 404) when a repository found nothing."""
    if value is None:
        raise missing()
    return value


class Conflict(JobyardError):
    status_code, code, message = 409, "conflict", "conflict"


class TooManyRequests(JobyardError):
    status_code, code, message = 429, "rate_limited", "too many requests"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(message, headers={"Retry-After": str(self.retry_after)})


class ServiceUnavailable(JobyardError):
    """A dependency is away: always with ``Retry-After``, so clients and balancers back off."""

    status_code, code, message = 503, "unavailable", "service unavailable"
    retry_after_seconds = 5

    def __init__(
        self, message: str | None = None, *, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(
            message, field=field, headers={"Retry-After": str(self.retry_after_seconds), **(headers or {})}
        )


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # validation errors add ``details``

    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    """What every error response holds (the OpenAPI shows it for every declared status)."""

    error: ErrorDetail


ERROR_DESCRIPTIONS = {
    400: "Bad request",
    401: "No valid credentials (or a bad signature)",
    403: "Not allowed for this caller",
    404: "Not found (or not the caller's)",
    409: "Conflicts with the current state",
    413: "Request body too large",
    422: "Invalid input; `field` names it",
    429: "Rate limited; see Retry-After",
    503: "A dependency (MongoDB, Redis, the auth service) is unavailable; see Retry-After",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route or router: these statuses answer with :class:`ErrorBody`."""
    return {status: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[status]} for status in statuses}


COMMON_ERRORS = error_responses(*ERROR_DESCRIPTIONS)


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, **extra}}


def _field_of(loc: tuple[int | str, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or None


async def _jobyard_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JobyardError)
    return JSONResponse(
        error_body(exc.code, exc.message, exc.field),
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    details = [
        {"field": _field_of(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))} for e in errors
    ]
    field = details[0]["field"] if details else None
    reason = details[0]["message"] if details else "invalid input"
    message = f"{field}: {reason}" if field else str(reason)
    return JSONResponse(
        error_body("validation_error", message, field, details=details),
        status_code=422,
    )


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {
        404: "not_found",
        405: "method_not_allowed",
        401: "unauthorized",
        403: "forbidden",
        413: "body_too_large",
    }
    return JSONResponse(
        error_body(codes.get(exc.status_code, "http_error"), str(exc.detail)),
        status_code=exc.status_code,
        headers=dict(exc.headers or {}),
    )


async def _dependency_away(request: Request, exc: Exception) -> JSONResponse:
    """MongoDB or Redis unreachable: a fast 503 naming it, so clients and balancers back off."""
    dependency = dependency_of(exc) or "a dependency"
    log.warning("dependency_unavailable", path=request.url.path, dependency=dependency, error=str(exc)[:200])
    return JSONResponse(
        error_body(
            "dependency_unavailable", f"{dependency} is unavailable; try again shortly", dependency=dependency
        ),
        status_code=503,
        headers={"Retry-After": str(ServiceUnavailable.retry_after_seconds)},
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", path=request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal_error", "internal server error"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(JobyardError, _jobyard_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for outage in OUTAGES:
        app.add_exception_handler(outage, _dependency_away)
    app.add_exception_handler(Exception, _unexpected_error)
