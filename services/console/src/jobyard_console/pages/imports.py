"""Import history, one import's detail, and "Import now" for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response
from jobyard_libs.imports.replies import FeedSourceOut, ImportLogDetail, ImportLogOut, ImportStarted
from jobyard_libs.retention import RetentionOut

from jobyard_console.web import AdminChanging, SignedIn, list_params, segment

router = APIRouter(tags=["imports"])
FILTERS = ("feedUrl", "status")
STATUSES = ("pending", "running", "completed", "failed")


@router.get("/imports", response_class=HTMLResponse)
async def import_list(page: SignedIn) -> HTMLResponse:
    query = list_params(page.request, *FILTERS)
    pager = await page.listing(ImportLogOut, "/api/v1/imports", query)
    feeds: list[FeedSourceOut] = []
    if page.session.is_admin:
        feeds = (await page.listing(FeedSourceOut, "/api/v1/feed-sources", {"limit": "100"})).items
    if page.request.headers.get("hx-request"):
        return page.render("_import_rows.html", pager=pager, statuses=STATUSES, feeds=feeds)
    retention = await page.api("GET", "/api/v1/retention", RetentionOut)
    return page.render("imports.html", pager=pager, statuses=STATUSES, feeds=feeds, retention=retention)


@router.get("/imports/{log_id}", response_class=HTMLResponse)
async def import_detail(page: SignedIn, log_id: str) -> HTMLResponse:
    log = await page.api("GET", f"/api/v1/imports/{segment(log_id)}", ImportLogDetail)
    template = "_import_detail.html" if page.request.headers.get("hx-request") else "import_detail.html"
    return page.render(template, log=log)


@router.post("/imports")
async def import_now(
    page: AdminChanging, feed_url: Annotated[str, Form(alias="feedUrl", max_length=2048)] = ""
) -> Response:
    body = {"feedUrls": [feed_url]} if feed_url else None
    started = await page.api("POST", "/api/v1/imports", ImportStarted, json=body)
    what = (
        "joined the running import" if started.joined else f"started {len(started.import_log_ids)} import(s)"
    )
    return page.back_to("/imports", f"Import now: {what}.")
