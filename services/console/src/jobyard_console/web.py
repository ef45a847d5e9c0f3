"""What every console page shares: templates, the signed-in caller, CSRF, errors as pages.

A page handler asks for :data:`SignedIn` (or :data:`AdminOnly`) and gets a
:class:`Page`: the caller (with its session) and ``page.api(...)``/``page.render(...)``.
State-changing routes also depend on :func:`csrf_checked`: the form's ``csrf`` field (or
htmx's ``X-CSRF-Token`` header, set on ``<body hx-headers>``) must equal the session's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar, overload
from urllib.parse import unquote, urlencode

import jinja2
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jobyard_libs.accounts import TokenPair, UserOut
from jobyard_libs.feeds.html import sanitize
from jobyard_libs.schemas import Page as ApiPage
from jobyard_libs.tasks.schedule import BadSchedule, zone
from markupsafe import Markup
from pydantic import BaseModel

from jobyard_console.charts import seconds_label
from jobyard_console.sessions import COOKIE, PRE_COOKIE, Session, SessionStore, cookie_name, new_token
from jobyard_console.settings import ConsoleSettings
from jobyard_console.upstream import Caller, Service, Upstream, UpstreamError, read

M = TypeVar("M", bound=BaseModel)
templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt attribute fails the page, never shows blank
    )
)


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class Forbidden(Exception):
    pass


class CsrfRefused(Exception):
    pass


def _moment(value: str | datetime) -> datetime | None:
    """A time from an answer: typed already (a reply model's), or ISO text (a dict's)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _when_exact(value: str | datetime | None) -> str:
    """ISO time from the api → ``2026-11-30 08:21:04 UTC``."""
    moment = _moment(value) if value else None
    if moment is None:
        return str(value or "—")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _when(value: str | datetime | None) -> Markup:
    """ISO time from the api → ``<time datetime="…">2026-11-30 08:21:04 UTC</time>``: exact and
    true however long the page stays open; console.js shows it as words ("3 min ago", kept
    current) with the exact moment in the viewer's time zone on hover."""
    moment = _moment(value) if value else None
    if moment is None:
        return Markup("{}").format(value or "—")
    return Markup('<time datetime="{}">{}</time>').format(moment.isoformat(), _when_exact(value))


def _duration(start: datetime | None, end: datetime | None) -> str:
    if not start or not end:
        return "—"
    seconds = (end - start).total_seconds()
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _period(seconds: int) -> str:
    """A retention period in words: ``86400`` → ``1 day``, ``5400`` → ``90 minutes``."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def _posting_html(value: str | None) -> Markup:
    """A posting's description as HTML: the api's sanitised HTML, sanitised again here (a
    posting stored before the import sanitised, not yet migrated, is made safe all the same)."""
    return Markup(sanitize(value) or "")  # noqa: S704 - nh3's output, nothing else


templates.env.filters["when"] = _when
templates.env.filters["when_exact"] = _when_exact
templates.env.filters["posting_html"] = _posting_html
templates.env.filters["period"] = _period
templates.env.filters["run_time"] = seconds_label
templates.env.globals["duration"] = _duration


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def caller_of(request: Request, session_id: str | None = None, session: Session | None = None) -> Caller:
    return Caller(client_ip(request), getattr(request.state, "request_id", "") or "", session_id, session)


@dataclass
class Page:
    request: Request
    caller: Caller
    session: Session

    @property
    def sessions(self) -> SessionStore:
        sessions: SessionStore = self.request.app.state.sessions
        return sessions

    @property
    def upstream(self) -> Upstream:
        upstream: Upstream = self.request.app.state.upstream
        return upstream

    @overload
    async def api(
        self,
        method: str,
        path: str,
        reply: type[M],
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        service: Service = "api",
    ) -> M: ...

    @overload
    async def api(
        self,
        method: str,
        path: str,
        reply: None = None,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        service: Service = "api",
    ) -> None: ...

    async def api(
        self,
        method: str,
        path: str,
        reply: type[M] | None = None,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        service: Service = "api",
    ) -> M | None:
        """A call; its answer as ``reply`` (the service's model), or nothing when the page
        does not read it."""
        answer = await self.upstream.call(self.caller, method, service, path, json=json, params=params)
        return None if reply is None else read(reply, answer)

    async def listing(
        self,
        item: type[M],
        path: str,
        query: dict[str, str],
        *,
        params: dict[str, Any] | None = None,
        service: Service = "api",
    ) -> Pager[M]:
        """One page of a list (``query``: the view's filters and position; ``params``, if
        the api is asked differently), each item as ``item``."""
        answer = await self.api(
            "GET", path, ApiPage[dict[str, Any]], params=query if params is None else params, service=service
        )
        return Pager.of(answer, [read(item, found) for found in answer.items], query)

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(
            self.request,
            template,
            {
                "session": self.session,
                "path": self.request.url.path,
                "notice": self.request.query_params.get("notice"),  # the one line a redirect left
                **context,
            },
            status_code=status_code,
        )

    def back_to(self, path: str, notice: str | None = None) -> RedirectResponse:
        """After a change: 303 to where the person goes next (with a one-line notice)."""
        target = path + (("&" if "?" in path else "?") + urlencode({"notice": notice}) if notice else "")
        return RedirectResponse(target, status_code=303)


async def signed_in(request: Request) -> Page:
    sessions: SessionStore = request.app.state.sessions
    session_id = request.cookies.get(cookie_name(COOKIE, request.app.state.settings.console_cookie_secure))
    session = await sessions.load(session_id)
    if session is None:
        raise SignInRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return Page(request, caller_of(request, session_id, session), session)


async def admin_only(page: Annotated[Page, Depends(signed_in)]) -> Page:
    if not page.session.is_admin:
        raise Forbidden
    return page


async def csrf_checked(request: Request, page: Annotated[Page, Depends(signed_in)]) -> Page:
    presented = request.headers.get("x-csrf-token")
    if presented is None:
        form = await request.form()
        value = form.get("csrf")
        presented = value if isinstance(value, str) else None
    if not page.session.csrf_matches(presented):
        raise CsrfRefused
    return page


async def admin_changing(page: Annotated[Page, Depends(csrf_checked)]) -> Page:
    return await admin_only(page)


SignedIn = Annotated[Page, Depends(signed_in)]
AdminOnly = Annotated[Page, Depends(admin_only)]
Changing = Annotated[Page, Depends(csrf_checked)]
AdminChanging = Annotated[Page, Depends(admin_changing)]


MAX_OFFSET = 10_000  # the api's deepest offset (jobyard_libs.listing.MAX_OFFSET)


@dataclass
class Pager(Generic[M]):
    """A list page's position: ``page``/``limit`` for the first pages, the api's cursor beyond."""

    items: list[M]
    page: int
    limit: int
    total: int | None
    capped: bool
    next_cursor: str | None
    query: dict[str, str]

    @classmethod
    def of(cls, answer: ApiPage[Any], items: list[M], query: dict[str, str]) -> Pager[M]:
        # beyond the first pages the api pages by cursor and knows no page number: the view
        # carries it (``n``, which the api ignores) so the pager still says where it is
        shown = query.get("n", "") if query.get("cursor") else ""
        return cls(
            items=items,
            page=int(shown) if shown.isdigit() and int(shown) > 0 else answer.page,
            limit=answer.limit,
            total=answer.total,
            capped=answer.total_capped,
            next_cursor=answer.next_cursor,
            query=query,
        )

    @property
    def pages(self) -> int | None:
        return None if self.total is None else max(1, math.ceil(self.total / self.limit))

    @property
    def previous(self) -> str | None:
        """The page before, by offset (the api serves offsets up to 10,000 items deep)."""
        if self.page <= 1 or (self.page - 2) * self.limit > MAX_OFFSET:
            return None
        return self.link(page=self.page - 1 if self.page > 2 else None, cursor=None, n=None)

    @property
    def next(self) -> str | None:
        if not self.next_cursor:
            return None
        return self.link(page=None, cursor=self.next_cursor, n=self.page + 1)

    def link(self, **changes: Any) -> str:
        """This view's URL with some parameters changed (filters stay: a view can be shared)."""
        merged = {k: v for k, v in {**self.query, **changes}.items() if v not in (None, "")}
        return "?" + urlencode(merged)


def segment(value: str) -> str:
    """An id from the browser's URL, as one safe path segment of an api URL (no ``/``, ``..``, ``?``).

    >>> segment("../../auth/v1/users?x=1")
    'authv1usersx1'
    """
    return "".join(c for c in value if c.isalnum())[:64] or "-"


def schedule_fields(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """A form's "When" fields (``_schedule.html``) as the api takes them (``type``, and
    ``scheduledAt``, a local date and time read in the form's zone, or ``cron`` and
    ``timezone``), and the errors found before asking it, by field."""
    type_ = values.get("type") or "one_time"
    timezone = values.get("timezone") or "UTC"
    body: dict[str, Any] = {"type": type_}
    errors: dict[str, str] = {}
    if type_ == "recurring":
        body.update(cron=values.get("cron", ""), timezone=timezone)
    elif type_ == "delayed":
        try:
            local = datetime.fromisoformat(values.get("scheduledAt") or "")
            moment = local if local.tzinfo else local.replace(tzinfo=zone(timezone))
            body["scheduledAt"] = moment.astimezone(UTC).isoformat()
        except (ValueError, BadSchedule) as exc:
            errors["scheduledAt"] = str(exc) if isinstance(exc, BadSchedule) else "a date and time"
    return body, errors


def list_params(request: Request, *filters: str) -> dict[str, str]:
    """The filters and position a list page was asked for, as the api's query parameters."""
    wanted = ("page", "limit", "cursor", "n", *filters)
    return {k: v for k, v in request.query_params.items() if k in wanted and v}


def error_page(
    request: Request, status_code: int, title: str, message: str, session: Session | None = None
) -> Response:
    return templates.TemplateResponse(
        request,
        "error.html",
        {"session": session, "title": title, "message": message, "path": request.url.path, "notice": None},
        status_code=status_code,
    )


def shown(error: UpstreamError) -> str:
    """An api error as one line for a person."""
    if error.status == 429:
        wait = {None: "a minute", "1": "1 second"}.get(error.retry_after, f"{error.retry_after} seconds")
        return f"Too many attempts; try again in {wait}."
    if error.status == 503:
        return f"A service is unavailable ({error.message}); try again shortly."
    return error.message


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    settings: ConsoleSettings = request.app.state.settings
    response.set_cookie(
        cookie_name(name, settings.console_cookie_secure),
        value,
        max_age=max_age,
        httponly=True,
        secure=settings.console_cookie_secure,
        samesite="strict",
        path="/",
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    """Forget a cookie set by :func:`set_cookie` (a __Host- one only with the same attributes)."""
    secure = request.app.state.settings.console_cookie_secure
    response.delete_cookie(
        cookie_name(name, secure), path="/", secure=secure, httponly=True, samesite="strict"
    )


def pre_session_form(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page shown before sign-in, with its forms' CSRF token (in an HttpOnly cookie and the form)."""
    settings: ConsoleSettings = request.app.state.settings
    token = request.cookies.get(cookie_name(PRE_COOKIE, settings.console_cookie_secure)) or new_token()
    response = templates.TemplateResponse(
        request,
        template,
        {
            "session": None,
            "csrf": token,
            "path": request.url.path,
            "google": settings.google_sign_in,
            "notice": request.query_params.get("notice"),
            **context,
        },
        status_code=status_code,
    )
    set_cookie(response, request, PRE_COOKIE, token, 3600)
    return response


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this console only (no ``//host``, no URL)."""
    path = unquote(value or "/")
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


async def start_session(request: Request, pair: TokenPair, next_path: str) -> Response:
    """Tokens from the auth service (password or Google) → a console session and its cookie."""
    upstream: Upstream = request.app.state.upstream
    user = read(
        UserOut,
        await upstream.anonymous(caller_of(request), "GET", "auth", "/auth/v1/me", token=pair.access_token),
    )
    sessions: SessionStore = request.app.state.sessions
    session_id = await sessions.start(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        user_id=user.id,
        email=user.email,
        role=user.role.value,
    )
    response = RedirectResponse(safe_next(next_path), status_code=303)
    settings: ConsoleSettings = request.app.state.settings
    set_cookie(response, request, COOKIE, session_id, settings.console_session_seconds)
    clear_cookie(response, request, PRE_COOKIE)
    return response
