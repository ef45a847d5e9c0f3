"""The overview: queue depth per queue, recent task outcomes, each feed's last import."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from jobyard_console.upstream import UpstreamError
from jobyard_console.web import SignedIn, shown

router = APIRouter(tags=["overview"])


@router.get("/", response_class=HTMLResponse)
async def overview(page: SignedIn) -> HTMLResponse:
    try:
        stats = await page.api("GET", "/api/v1/stats", service="monitor")
        unavailable = None
    except UpstreamError as error:  # the rest of the console works without the monitor
        stats, unavailable = {}, shown(error)
    outcomes: dict[str, int] = {}
    for kind in (stats.get("tasks") or {}).get("byKind", {}).values():
        for status, count in kind.get("counts", {}).items():
            outcomes[status] = outcomes.get(status, 0) + int(count)
    return page.render("overview.html", stats=stats, outcomes=outcomes, unavailable=unavailable)


@router.get("/overview/queues", response_class=HTMLResponse)
async def queues(page: SignedIn) -> HTMLResponse:
    """The queue table alone (htmx refreshes it every few seconds)."""
    stats = await page.api("GET", "/api/v1/stats", service="monitor")
    return page.render("_queues.html", stats=stats)
