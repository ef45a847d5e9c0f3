"""Workers (admins): each worker process from its heartbeats (the monitor's board), what it
runs now, stale ones marked; the scheduler's leader and its last tick."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from jobyard_libs.monitoring import WorkersOut

from jobyard_console.web import AdminOnly

router = APIRouter(tags=["workers"])


@router.get("/workers", response_class=HTMLResponse)
async def worker_board(page: AdminOnly) -> HTMLResponse:
    board = await page.api("GET", "/api/v1/workers", WorkersOut, service="monitor")
    template = "_workers.html" if page.request.headers.get("hx-request") else "workers.html"
    return page.render(template, board=board)
