"""Administration: feed sources and users (admins only), and each person's own API keys."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response
from jobyard_libs.accounts import ApiKeyCreated, ApiKeyOut, UserChanged, UserOut, WorkChangeOut
from jobyard_libs.audit import AuditAction, AuditEventOut
from jobyard_libs.imports.replies import FeedSourceOut

from jobyard_console.upstream import UpstreamError
from jobyard_console.web import (
    AdminChanging,
    AdminOnly,
    Changing,
    Page,
    SignedIn,
    list_params,
    segment,
    shown,
)

router = APIRouter(tags=["admin"])


@router.get("/admin/feed-sources", response_class=HTMLResponse)
async def feed_sources(page: AdminOnly) -> HTMLResponse:
    return await _feed_sources(page, {}, {})


async def _feed_sources(
    page: Page, values: dict[str, str], errors: dict[str, str], status_code: int = 200
) -> HTMLResponse:
    query = list_params(page.request)
    pager = await page.listing(FeedSourceOut, "/api/v1/feed-sources", query)
    return page.render(
        "feed_sources.html",
        status_code=status_code,
        pager=pager,
        values=values,
        errors=errors,
    )


@router.post("/admin/feed-sources", response_class=HTMLResponse)
async def add_feed_source(
    page: AdminChanging,
    url: Annotated[str, Form(max_length=2048)],
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        await page.api("POST", "/api/v1/feed-sources", json={"url": url, "name": name or None})
    except UpstreamError as error:
        if error.status not in (400, 409, 422):
            raise
        return await _feed_sources(
            page, {"url": url, "name": name}, error.field_errors() or {"url": shown(error)}, error.status
        )
    return page.back_to("/admin/feed-sources", f"Added {url[:200]}.")


@router.post("/admin/feed-sources/{source_id}")
async def change_feed_source(
    page: AdminChanging,
    source_id: str,
    action: Annotated[str, Form(max_length=20)],
    name: Annotated[str, Form(max_length=200)] = "",
    url: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """``action``: enable, disable, rename (name, url) or delete."""
    path = f"/api/v1/feed-sources/{segment(source_id)}"
    if action == "delete":
        await page.api("DELETE", path)
        return page.back_to("/admin/feed-sources", "Feed source deleted.")
    changes = {
        "enable": {"enabled": True},
        "disable": {"enabled": False},
        "save": {k: v for k, v in {"name": name, "url": url}.items() if v},
    }
    if action not in changes:
        return page.back_to("/admin/feed-sources", "Unknown action.")
    try:
        await page.api("PATCH", path, json=changes[action])
    except UpstreamError as error:
        return page.back_to("/admin/feed-sources", f"Not saved: {shown(error)}")
    return page.back_to("/admin/feed-sources", "Saved.")


@router.get("/admin/users", response_class=HTMLResponse)
async def users(page: AdminOnly) -> HTMLResponse:
    query = list_params(page.request)
    pager = await page.listing(UserOut, "/auth/v1/users", query, service="auth")
    return page.render("users.html", pager=pager)


@router.post("/admin/users/{user_id}")
async def change_user(
    page: AdminChanging,
    user_id: str,
    role: Annotated[str, Form(max_length=20)] = "",
    active: Annotated[str, Form(max_length=5)] = "",
    unlock: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    changes: dict[str, object] = {}
    if role in ("admin", "user"):
        changes["role"] = role
    if active in ("true", "false"):
        changes["active"] = active == "true"
    if unlock == "true":
        changes["signInLocked"] = False
    try:
        changed = await page.api(
            "PATCH", f"/auth/v1/users/{segment(user_id)}", UserChanged, json=changes, service="auth"
        )
    except UpstreamError as error:
        return page.back_to("/admin/users", f"Not saved: {shown(error)}")
    return page.back_to("/admin/users", "Saved." + _work_said(changed.work))


def _work_said(work: WorkChangeOut) -> str:
    """What a change of rights did to the user's work, in words."""
    parts = [
        f"{count} {words}"
        for count, words in (
            (work.paused_tasks, "task(s) paused"),
            (work.cancelled_executions, "execution(s) cancelled"),
            (work.resumed_tasks, "task(s) resumed"),
        )
        if count
    ]
    return f" {', '.join(parts).capitalize()}." if parts else ""


@router.get("/admin/audit", response_class=HTMLResponse)
async def audit(page: AdminOnly) -> HTMLResponse:
    query = list_params(page.request, "action", "actorId", "targetId")
    pager = await page.listing(AuditEventOut, "/api/v1/audit", query)
    return page.render("audit.html", pager=pager, actions=[action.value for action in AuditAction])


@router.get("/api-keys", response_class=HTMLResponse)
async def api_keys(page: SignedIn) -> HTMLResponse:
    created = None
    if page.caller.session_id and (held := await page.sessions.take_once(page.caller.session_id)):
        created = json.loads(held)
    return await _api_keys(page, created, {})


async def _api_keys(
    page: Page, created: dict[str, object] | None, errors: dict[str, str], status_code: int = 200
) -> HTMLResponse:
    query = list_params(page.request)
    pager = await page.listing(ApiKeyOut, "/auth/v1/api-keys", query, service="auth")
    return page.render(
        "api_keys.html",
        status_code=status_code,
        pager=pager,
        created=created,
        errors=errors,
    )


@router.post("/api-keys", response_class=HTMLResponse)
async def create_api_key(
    page: Changing,
    name: Annotated[str, Form(max_length=100)],
    days: Annotated[str, Form(max_length=5)] = "",
    scope: Annotated[str, Form(max_length=10)] = "tasks",
) -> Response:
    """The key is shown once, on the page the browser is sent to next (kept in Redis for that
    one page, never in a cookie or a URL), so reloading it does not create another."""
    body: dict[str, object] = {"name": name, "scopes": [scope]}
    if days.strip():
        body["expiresInDays"] = int(days) if days.strip().isdigit() else days
    try:
        created = await page.api("POST", "/auth/v1/api-keys", ApiKeyCreated, json=body, service="auth")
    except UpstreamError as error:
        if error.status not in (400, 409, 422):
            raise
        found = error.field_errors()
        return await _api_keys(
            page,
            None,
            {({"expiresInDays": "days", "scopes": "scope"}.get(k, k)): v for k, v in found.items()}
            or {"name": shown(error)},
            error.status,
        )
    if page.caller.session_id:
        await page.sessions.hold_once(
            page.caller.session_id, json.dumps({"name": created.name, "key": created.key})
        )
    return page.back_to("/api-keys")


@router.post("/api-keys/{key_id}/revoke")
async def revoke_api_key(page: Changing, key_id: str) -> Response:
    await page.api("DELETE", f"/auth/v1/api-keys/{segment(key_id)}", service="auth")
    return page.back_to("/api-keys", "Key revoked.")
