"""Executions across tasks, failures first: list by outcome, kind, task name, owner and time;
replay, discard or cancel everything a filter matches (after a confirmation with the count);
one execution's detail, its artifact, cancel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from jobyard_libs.tasks.kinds import KINDS
from jobyard_libs.tasks.models import ExecutionStatus
from jobyard_libs.tasks.replies import BulkOut, ExecutionOut

from jobyard_console.upstream import UpstreamError
from jobyard_console.web import Changing, SignedIn, list_params, segment, shown

router = APIRouter(tags=["executions"])
FILTERS = ("status", "kind", "taskName", "ownerId", "since", "until")
ARTIFACT_HEADERS = ("content-type", "content-disposition", "content-length")
ACTIONS = {  # what each bulk action is called, and what it applies to
    "replay": ("Replay", "dead"),
    "discard": ("Discard the dead letters of", "dead"),
    "cancel": ("Cancel", "pending, retrying or running"),
}


def _filter(query: dict[str, str]) -> dict[str, Any]:
    """The view's filters as the api's bulk filter (times as the api reads them: UTC)."""
    given: dict[str, Any] = {k: v for k, v in query.items() if k in FILTERS}
    for name in ("since", "until"):
        if name in given:
            given[name] = _utc(given[name])
    return given


def _utc(value: str) -> str:
    """A ``datetime-local`` value (no zone: the page says UTC) as an aware time."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value  # the api names the field
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


@router.get("/executions", response_class=HTMLResponse)
async def execution_list(page: SignedIn) -> HTMLResponse:
    query = list_params(page.request, *FILTERS)
    params = {**query, **{k: v for k, v in _filter(query).items() if k in ("since", "until")}}
    pager = await page.listing(ExecutionOut, "/api/v1/executions", query, params=params)
    return page.render(
        "executions.html",
        pager=pager,
        statuses=[s.value for s in ExecutionStatus],
        kinds=list(KINDS),
        actions=ACTIONS,
    )


@router.get("/executions/bulk", response_class=HTMLResponse)
async def confirm_bulk(page: SignedIn, action: str = "") -> Response:
    """How many the action would change, asked of the api; nothing changes before Confirm."""
    query = list_params(page.request, *FILTERS)
    if action not in ACTIONS:
        return page.back_to("/executions", "Choose Replay, Discard or Cancel.")
    answer = await page.api(
        "POST",
        "/api/v1/executions:bulk",
        BulkOut,
        json={"action": action, "filter": _filter(query), "dryRun": True},
    )
    return page.render(
        "executions_bulk.html", action=action, words=ACTIONS[action], answer=answer, query=query
    )


@router.post("/executions/bulk")
async def run_bulk(page: Changing) -> Response:
    form = await page.request.form()
    action = str(form.get("action", ""))
    query = {k: str(v) for k, v in form.items() if k in FILTERS and v}
    back = "?" + urlencode(query) if query else ""
    if action not in ACTIONS:
        return page.back_to("/executions" + back, "Choose Replay, Discard or Cancel.")
    try:
        answer = await page.api(
            "POST", "/api/v1/executions:bulk", BulkOut, json={"action": action, "filter": _filter(query)}
        )
    except UpstreamError as error:
        return page.back_to("/executions" + back, f"Not done: {shown(error)}")
    notice = f"{ACTIONS[action][0]} {answer.done} of {answer.matched} execution(s)."
    if answer.capped:
        notice += " More match: run it again for the rest."
    if answer.failed:
        notice += f" {len(answer.failed)} not done (finished meanwhile)."
    return page.back_to("/executions" + back, notice)


@router.get("/executions/{execution_id}", response_class=HTMLResponse)
async def execution_detail(page: SignedIn, execution_id: str) -> HTMLResponse:
    execution = await page.api("GET", f"/api/v1/executions/{segment(execution_id)}", ExecutionOut)
    template = "_execution.html" if page.request.headers.get("hx-request") else "execution_detail.html"
    return page.render(template, execution=execution)


@router.post("/executions/{execution_id}/cancel")
async def cancel_execution(page: Changing, execution_id: str) -> Response:
    await page.api("POST", f"/api/v1/executions/{segment(execution_id)}/cancel")
    return page.back_to(f"/executions/{segment(execution_id)}", "Cancel requested.")


@router.get("/executions/{execution_id}/artifact")
async def artifact(page: SignedIn, request: Request, execution_id: str) -> Response:
    """The execution's file (a CSV export), streamed through: the browser never holds a token."""
    opened = page.upstream.stream(page.caller, "api", f"/api/v1/executions/{segment(execution_id)}/artifact")
    response = await opened.__aenter__()
    headers = {k: v for k, v in response.headers.items() if k.lower() in ARTIFACT_HEADERS}

    async def body() -> Any:
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        finally:
            await opened.__aexit__(None, None, None)

    return StreamingResponse(body(), headers=headers, media_type=response.headers.get("content-type"))
