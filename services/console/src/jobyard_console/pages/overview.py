"""The overview: queue depth per queue, recent task outcomes, each feed's last import."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from jobyard_console.upstream import UpstreamError
from jobyard_console.web import Page, SignedIn, shown

router = APIRouter(tags=["overview"])


async def _stats(page: Page) -> dict[str, Any]:
    try:
        stats: dict[str, Any] = await page.api("GET", "/api/v1/stats", service="monitor")
        unavailable = None
    except UpstreamError as error:  # the rest of the console works without the monitor
        stats, unavailable = {}, shown(error)
    outcomes: dict[str, int] = {}
    for kind in (stats.get("tasks") or {}).get("byKind", {}).values():
        for status, count in kind.get("counts", {}).items():
            outcomes[status] = outcomes.get(status, 0) + int(count)
    return {"stats": stats, "outcomes": outcomes, "unavailable": unavailable}


@router.get("/", response_class=HTMLResponse)
async def overview(page: SignedIn) -> HTMLResponse:
    return page.render("overview.html", **await _stats(page))


@router.get("/overview/activity", response_class=HTMLResponse)
async def activity(page: SignedIn) -> HTMLResponse:
    """The task outcome tiles and the feeds' health alone (htmx refreshes them every few seconds)."""
    return page.render("_activity.html", **await _stats(page))


@router.get("/overview/queues", response_class=HTMLResponse)
async def queues(page: SignedIn) -> HTMLResponse:
    """The queue table alone (htmx refreshes it every few seconds)."""
    stats = await page.api("GET", "/api/v1/stats", service="monitor")
    return page.render("_queues.html", stats=stats)
