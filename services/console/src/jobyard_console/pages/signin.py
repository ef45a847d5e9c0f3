"""Sign in, register, sign out."""

from __future__ import annotations

import contextlib
import hmac
from typing import Annotated
from urllib.parse import unquote

import httpx
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jobyard_console.sessions import COOKIE, PRE_COOKIE, SessionStore, new_token
from jobyard_console.settings import ConsoleSettings
from jobyard_console.upstream import Upstream, UpstreamError
from jobyard_console.web import Changing, caller_of, shown, templates

router = APIRouter(tags=["sign in"])


def _set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    settings: ConsoleSettings = request.app.state.settings
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        secure=settings.console_cookie_secure,
        samesite="strict",
        path="/",
    )


def _form(request: Request, template: str, status_code: int = 200, **context: object) -> HTMLResponse:
    """A form shown before sign-in, with its own CSRF token (in an HttpOnly cookie and the form)."""
    token = request.cookies.get(PRE_COOKIE) or new_token()
    response = templates.TemplateResponse(
        request,
        template,
        {"session": None, "csrf": token, "path": request.url.path, **context},
        status_code=status_code,
    )
    _set_cookie(response, request, PRE_COOKIE, token, 3600)
    return response


def _pre_csrf_ok(request: Request, presented: str) -> bool:
    expected = request.cookies.get(PRE_COOKIE)
    return bool(expected) and hmac.compare_digest(expected.encode(), presented.encode())  # type: ignore[union-attr]


def _next(value: str | None) -> str:
    path = unquote(value or "/")
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(request: Request, next: str = "/") -> HTMLResponse:
    return _form(
        request,
        "sign_in.html",
        next=_next(next),
        email="",
        error=None,
        notice=request.query_params.get("notice"),
    )


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    if not _pre_csrf_ok(request, csrf):
        return _form(
            request, "sign_in.html", 403, next=_next(next), email=email, error="The form expired; try again."
        )
    upstream: Upstream = request.app.state.upstream
    caller = caller_of(request)
    try:
        pair = await upstream.anonymous(
            caller, "POST", "auth", "/auth/v1/login", json={"email": email, "password": password}
        )
        user = await upstream.anonymous(caller, "GET", "auth", "/auth/v1/me", token=pair["accessToken"])
    except UpstreamError as error:
        message = (
            "Wrong email or password."
            if error.status == 401 and "locked" not in error.message
            else shown(error)
        )
        return _form(
            request,
            "sign_in.html",
            error.status if error.status < 500 else 502,
            next=_next(next),
            email=email,
            error=message,
        )
    sessions: SessionStore = request.app.state.sessions
    session_id = await sessions.start(
        access_token=pair["accessToken"],
        refresh_token=pair["refreshToken"],
        user_id=user["id"],
        email=user["email"],
        role=user["role"],
    )
    response = RedirectResponse(_next(next), status_code=303)
    settings: ConsoleSettings = request.app.state.settings
    _set_cookie(response, request, COOKIE, session_id, settings.console_session_seconds)
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


@router.get("/register", response_class=HTMLResponse)
async def register_form(request: Request) -> HTMLResponse:
    return _form(request, "register.html", values={}, errors={}, error=None)


@router.post("/register", response_class=HTMLResponse)
async def register(
    request: Request,
    email: Annotated[str, Form(max_length=254)],
    name: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    values = {"email": email, "name": name}
    if not _pre_csrf_ok(request, csrf):
        return _form(
            request, "register.html", 403, values=values, errors={}, error="The form expired; try again."
        )
    upstream: Upstream = request.app.state.upstream
    try:
        await upstream.anonymous(
            caller_of(request),
            "POST",
            "auth",
            "/auth/v1/register",
            json={"email": email, "name": name, "password": password},
        )
    except UpstreamError as error:
        return _form(
            request,
            "register.html",
            error.status if error.status < 500 else 502,
            values=values,
            errors=error.field_errors(),
            error=shown(error),
        )
    return RedirectResponse("/sign-in?notice=Account+created%3B+sign+in.", status_code=303)


@router.post("/sign-out")
async def sign_out(page: Changing) -> Response:
    sessions: SessionStore = page.request.app.state.sessions
    if page.caller.session_id:
        ended = await sessions.end(page.caller.session_id)
        if ended is not None:  # the refresh token dies with the session
            with contextlib.suppress(UpstreamError, httpx.HTTPError):
                await page.upstream.anonymous(
                    page.caller, "POST", "auth", "/auth/v1/logout", json={"refreshToken": ended.refresh_token}
                )
    response = RedirectResponse("/sign-in?notice=Signed+out.", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
