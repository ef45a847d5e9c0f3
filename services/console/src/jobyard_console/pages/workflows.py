"""Workflows: list, create from JSON (errors beside the field), a workflow's page with its
graph drawn on the server and each step's state live, cancel."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from jobyard_libs.tasks.models import TaskType
from jobyard_libs.workflows.models import WorkflowStatus
from jobyard_libs.workflows.replies import WorkflowOut

from jobyard_console.graphs import layout
from jobyard_console.upstream import UpstreamError
from jobyard_console.web import Changing, Page, SignedIn, list_params, schedule_fields, segment, shown

router = APIRouter(tags=["workflows"])
EXAMPLE = [
    {"id": "first", "kind": "noop"},
    {"id": "then", "kind": "sleep", "payload": {"seconds": 1}, "dependsOn": ["first"]},
    {"id": "undo", "kind": "noop", "dependsOn": ["then"], "runIf": "anyFailed"},
]


@router.get("/workflows", response_class=HTMLResponse)
async def workflow_list(page: SignedIn) -> HTMLResponse:
    query = list_params(page.request, "status", "ownerId", "recurringId")
    pager = await page.listing(WorkflowOut, "/api/v1/workflows", query)
    return page.render("workflows.html", pager=pager, statuses=[s.value for s in WorkflowStatus])


FIELDS = ("name", "steps", "type", "scheduledAt", "cron", "timezone")
OWN_FIELDS = frozenset(FIELDS) - {"steps"}  # an error of any other field is a step's: shown by the steps


@router.get("/workflows/new", response_class=HTMLResponse)
async def new_workflow(page: SignedIn) -> HTMLResponse:
    defaults = {"name": "", "steps": json.dumps(EXAMPLE, indent=2), "type": "one_time", "timezone": "UTC"}
    return _form(page, defaults, {})


def _form(page: Page, values: dict[str, str], errors: dict[str, str], status_code: int = 200) -> HTMLResponse:
    return page.render(
        "workflow_new.html",
        status_code=status_code,
        values=values,
        errors=errors,
        types=[t.value for t in TaskType],
        preview=None,  # the cron field asks for it as it loads
    )


@router.post("/workflows", response_class=HTMLResponse)
async def create_workflow(page: Changing) -> Response:
    form = await page.request.form()
    values = {k: str(form.get(k, "")) for k in FIELDS}
    when, errors = schedule_fields(values)
    try:
        steps: Any = json.loads(values["steps"] or "[]")
        if not isinstance(steps, list):
            errors["steps"] = "a JSON list of steps, as in the example"
    except ValueError as exc:
        errors["steps"] = f"not JSON: {exc}"
    if errors:
        return _form(page, values, errors, 422)
    try:
        created = await page.api(
            "POST", "/api/v1/workflows", WorkflowOut, json={"name": values["name"], "steps": steps, **when}
        )
    except UpstreamError as error:
        if error.status not in (400, 403, 409, 422, 429):
            raise
        found = error.field_errors() or {"steps": shown(error)}
        # a step's field ("steps[1].dependsOn") is shown beside the steps, named
        errors = {
            (field if field in OWN_FIELDS else "steps"): (
                message if field in FIELDS else f"{field}: {message}"
            )
            for field, message in found.items()
        }
        return _form(page, values, errors, error.status)
    said = "Workflow started." if created.status is WorkflowStatus.RUNNING else "Workflow scheduled."
    return page.back_to(f"/workflows/{created.id}", said)


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
