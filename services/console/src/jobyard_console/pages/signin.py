"""Sign in (password, or Google when configured), register, sign out."""

from __future__ import annotations

import contextlib
import hmac
from typing import Annotated

import httpx
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jobyard_libs.accounts import TokenPair

from jobyard_console.sessions import COOKIE, PRE_COOKIE, SessionStore, cookie_name
from jobyard_console.upstream import Upstream, UpstreamError, read
from jobyard_console.web import (
    Changing,
    caller_of,
    clear_cookie,
    pre_session_form,
    safe_next,
    shown,
    start_session,
)

router = APIRouter(tags=["sign in"])


LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


def expired(request: Request) -> str:
    """Why a sign-in or registration form's token is missing or stale, as the person can act
    on it. Over plain http on a name other than localhost, a browser drops the Secure
    cookie that holds the token, and every attempt fails the same way: say so."""
    secure = request.app.state.settings.console_cookie_secure
    host = (request.url.hostname or "").lower()
    if (
        secure
        and request.url.scheme == "http"
        and host not in LOCAL_NAMES
        and not host.endswith(".localhost")
    ):
        return (
            "Your browser refused this console's cookie: it is served over plain http. Serve it over https, "
            "or (development only) set JOBYARD_CONSOLE_COOKIE_SECURE=false."
        )
    return "The form expired; try again."


def _pre_csrf_ok(request: Request, presented: str) -> bool:
    expected = request.cookies.get(cookie_name(PRE_COOKIE, request.app.state.settings.console_cookie_secure))
    return expected is not None and hmac.compare_digest(expected.encode(), presented.encode())


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(request: Request, next: str = "/") -> HTMLResponse:
    return pre_session_form(request, "sign_in.html", next=safe_next(next), email="", error=None)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    if not _pre_csrf_ok(request, csrf):
        return pre_session_form(
            request,
            "sign_in.html",
            403,
            next=safe_next(next),
            email=email,
            error=expired(request),
        )
    upstream: Upstream = request.app.state.upstream
    try:
        pair = read(
            TokenPair,
            await upstream.anonymous(
                caller_of(request),
                "POST",
                "auth",
                "/auth/v1/login",
                json={"email": email, "password": password},
            ),
        )
        return await start_session(request, pair, next)
    except UpstreamError as error:
        message = (
            "Wrong email or password."
            if error.status == 401 and "locked" not in error.message
            else shown(error)
        )
        status = error.status if error.status < 500 else 502
        return pre_session_form(
            request, "sign_in.html", status, next=safe_next(next), email=email, error=message
        )


@router.get("/register", response_class=HTMLResponse)
async def register_form(request: Request) -> HTMLResponse:
    return pre_session_form(request, "register.html", values={}, errors={}, error=None)


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
        return pre_session_form(
            request, "register.html", 403, values=values, errors={}, error=expired(request)
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
        return pre_session_form(
            request,
            "register.html",
            error.status if error.status < 500 else 502,
            values=values,
            errors=error.field_errors(),
            error=None if error.field_errors() else shown(error),  # a field's error is shown beside it, once
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
    clear_cookie(response, page.request, COOKIE)
    return response
