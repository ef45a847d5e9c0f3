"""The overview: queue depth per queue, recent task outcomes, charts over the last hour or
day (all queues or one), each feed's last import."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from jobyard_libs.monitoring import MonitorStats
from jobyard_libs.tasks.stats import Span, StatsSeries

from jobyard_console.charts import charts
from jobyard_console.upstream import UpstreamError
from jobyard_console.web import Page, SignedIn, shown

router = APIRouter(tags=["overview"])


async def _monitor_stats(page: Page) -> MonitorStats:
    return await page.api("GET", "/api/v1/stats", MonitorStats, service="monitor")


async def _stats(page: Page) -> dict[str, Any]:
    try:
        stats, unavailable = await _monitor_stats(page), None
    except UpstreamError as error:  # the rest of the console works without the monitor
        stats, unavailable = MonitorStats(), shown(error)
    outcomes = stats.tasks.outcomes() if stats.tasks else {}
    return {"stats": stats, "outcomes": outcomes, "unavailable": unavailable}


async def _charts(page: Page, span: str, queue: str) -> dict[str, Any]:
    chosen: Span = "day" if span == "day" else "hour"
    params = {"span": chosen, **({"queue": queue} if queue else {})}
    try:
        series = await page.api("GET", "/api/v1/stats/series", StatsSeries, params=params, service="monitor")
    except UpstreamError as error:
        return {"span": chosen, "queue": queue, "series": None, "charts": [], "charts_error": shown(error)}
    return {"span": chosen, "queue": queue, "series": series, "charts": charts(series), "charts_error": None}


@router.get("/", response_class=HTMLResponse)
async def overview(
    page: SignedIn, span: Annotated[str, Query()] = "hour", queue: Annotated[str, Query()] = ""
) -> HTMLResponse:
    return page.render("overview.html", **await _stats(page), **await _charts(page, span, queue))


@router.get("/overview/charts", response_class=HTMLResponse)
async def charts_fragment(
    page: SignedIn, span: Annotated[str, Query()] = "hour", queue: Annotated[str, Query()] = ""
) -> HTMLResponse:
    """The charts alone (htmx refreshes them every 10 seconds)."""
    return page.render("_charts.html", **await _charts(page, span, queue))


@router.get("/overview/activity", response_class=HTMLResponse)
async def activity(page: SignedIn) -> HTMLResponse:
    """The task outcome tiles and the feeds' health alone (htmx refreshes them every few seconds)."""
    return page.render("_activity.html", **await _stats(page))


@router.get("/overview/queues", response_class=HTMLResponse)
async def queues(page: SignedIn) -> HTMLResponse:
    """The queue table alone (htmx refreshes it every few seconds)."""
    return page.render("_queues.html", stats=await _monitor_stats(page))
