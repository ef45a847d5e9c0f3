"""Workflows: list, create from JSON (errors beside the field), a workflow's page with its
graph drawn on the server and each step's state live, cancel."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from jobyard_libs.workflows.models import WorkflowStatus
from jobyard_libs.workflows.replies import WorkflowOut

from jobyard_console.graphs import layout
from jobyard_console.upstream import UpstreamError
from jobyard_console.web import Changing, Page, SignedIn, list_params, segment, shown

router = APIRouter(tags=["workflows"])
EXAMPLE = [
    {"id": "first", "kind": "noop"},
    {"id": "then", "kind": "sleep", "payload": {"seconds": 1}, "dependsOn": ["first"]},
    {"id": "undo", "kind": "noop", "dependsOn": ["then"], "runIf": "anyFailed"},
]


@router.get("/workflows", response_class=HTMLResponse)
async def workflow_list(page: SignedIn) -> HTMLResponse:
    query = list_params(page.request, "status", "ownerId")
    pager = await page.listing(WorkflowOut, "/api/v1/workflows", query)
    return page.render("workflows.html", pager=pager, statuses=[s.value for s in WorkflowStatus])


@router.get("/workflows/new", response_class=HTMLResponse)
async def new_workflow(page: SignedIn) -> HTMLResponse:
    return _form(page, {"name": "", "steps": json.dumps(EXAMPLE, indent=2)}, {})


def _form(page: Page, values: dict[str, str], errors: dict[str, str], status_code: int = 200) -> HTMLResponse:
    return page.render("workflow_new.html", status_code=status_code, values=values, errors=errors)


@router.post("/workflows", response_class=HTMLResponse)
async def create_workflow(page: Changing) -> Response:
    form = await page.request.form()
    values = {k: str(form.get(k, "")) for k in ("name", "steps")}
    try:
        steps: Any = json.loads(values["steps"] or "[]")
    except ValueError as exc:
        return _form(page, values, {"steps": f"not JSON: {exc}"}, 422)
    if not isinstance(steps, list):
        return _form(page, values, {"steps": "a JSON list of steps, as in the example"}, 422)
    try:
        created = await page.api(
            "POST", "/api/v1/workflows", WorkflowOut, json={"name": values["name"], "steps": steps}
        )
    except UpstreamError as error:
        if error.status not in (400, 403, 409, 422, 429):
            raise
        found = error.field_errors() or {"steps": shown(error)}
        # a step's field ("steps[1].dependsOn") is shown beside the steps, named
        errors = {
            ("name" if field == "name" else "steps"): (
                message if field in ("name", "steps") else f"{field}: {message}"
            )
            for field, message in found.items()
        }
        return _form(page, values, errors, error.status)
    return page.back_to(f"/workflows/{created.id}", "Workflow started.")


async def _workflow(page: Page, workflow_id: str) -> dict[str, Any]:
    workflow = await page.api("GET", f"/api/v1/workflows/{segment(workflow_id)}", WorkflowOut)
    return {"workflow": workflow, "drawing": layout(workflow.steps)}


@router.get("/workflows/{workflow_id}", response_class=HTMLResponse)
async def workflow_detail(page: SignedIn, workflow_id: str) -> HTMLResponse:
    return page.render("workflow_detail.html", **await _workflow(page, workflow_id))


@router.get("/workflows/{workflow_id}/graph", response_class=HTMLResponse)
async def workflow_graph(page: SignedIn, workflow_id: str) -> HTMLResponse:
    """The graph and the steps alone: htmx swaps them in when one of its steps changes."""
    return page.render("_workflow.html", **await _workflow(page, workflow_id))


@router.post("/workflows/{workflow_id}/cancel")
async def cancel_workflow(page: Changing, workflow_id: str) -> Response:
    try:
        await page.api("POST", f"/api/v1/workflows/{segment(workflow_id)}/cancel")
    except UpstreamError as error:
        return page.back_to(f"/workflows/{segment(workflow_id)}", f"Not cancelled: {shown(error)}")
    return page.back_to(f"/workflows/{segment(workflow_id)}", "Cancel requested.")
