"""Tasks: list, create (all three types), detail with live executions, and the actions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from jobyard_libs.tasks.kinds import KINDS
from jobyard_libs.tasks.models import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_PRIORITY,
    DEFAULT_TIMEOUT_MS,
    DEFAULT_TIMEZONE,
    MisfirePolicy,
    TaskStatus,
    TaskType,
)
from jobyard_libs.tasks.replies import CronPreview, ExecutionOut, TaskCounts, TaskCreated, TaskOut
from jobyard_libs.tasks.schedule import zone
from pydantic import ValidationError

from jobyard_console.upstream import UpstreamError
from jobyard_console.web import Changing, Page, Pager, SignedIn, list_params, schedule_fields, segment, shown

router = APIRouter(tags=["tasks"])
FILTERS = ("status", "type", "kind", "name", "ownerId")
ACTIONS = ("run", "pause", "resume", "cancel")
NUMBERS = {"priority": DEFAULT_PRIORITY, "maxRetries": DEFAULT_MAX_RETRIES, "timeoutMs": DEFAULT_TIMEOUT_MS}


def _kinds(page: Page) -> list[tuple[str, str]]:
    role = page.session.role
    return [
        (name, spec.description) for name, spec in KINDS.items() if any(r.value == role for r in spec.roles)
    ]


@router.get("/tasks", response_class=HTMLResponse)
async def task_list(page: SignedIn) -> HTMLResponse:
    query = list_params(page.request, *FILTERS)
    pager = await page.listing(TaskOut, "/api/v1/tasks", query)
    owner = {"ownerId": query["ownerId"]} if query.get("ownerId") else {}
    counts = await page.api("GET", "/api/v1/tasks/counts", TaskCounts, params=owner)
    return page.render(
        "tasks.html",
        pager=pager,
        counts=counts,
        owner=owner,
        statuses=[s.value for s in TaskStatus],
        types=[t.value for t in TaskType],
        kinds=list(KINDS),
    )


@router.get("/tasks/new", response_class=HTMLResponse)
async def new_task(page: SignedIn) -> HTMLResponse:
    defaults = {
        "type": TaskType.ONE_TIME.value,
        "kind": "noop",
        "payload": "{}",
        "timezone": DEFAULT_TIMEZONE,
        "misfirePolicy": MisfirePolicy.FIRE_ONCE.value,
    }
    return await _task_form(page, {**defaults, **{k: str(v) for k, v in NUMBERS.items()}}, {})


async def _task_form(
    page: Page, values: dict[str, str], errors: dict[str, str], status_code: int = 200
) -> HTMLResponse:
    cron = values.get("cron", "")
    preview = (
        await _cron_preview(page, cron[:120], values.get("timezone", "UTC")[:64]) if cron.strip() else None
    )
    return page.render(
        "task_new.html",
        status_code=status_code,
        values=values,
        errors=errors,
        kinds=_kinds(page),
        types=[t.value for t in TaskType],
        misfire=[m.value for m in MisfirePolicy],
        preview=preview,
    )


def task_body(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The api's task body from the form, and the errors found before asking it (by field)."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {
        "name": values.get("name", ""),
        "kind": values.get("kind", ""),
    }
    for optional in ("description", "webhookUrl"):
        if values.get(optional):
            body[optional] = values[optional]
    for name, default in NUMBERS.items():
        try:
            body[name] = int(values.get(name) or default)
        except ValueError:
            errors[name] = "a whole number"
    try:
        payload = json.loads(values.get("payload") or "{}")
        if not isinstance(payload, dict):
            raise ValueError("not an object")
        body["payload"] = payload
        spec = KINDS.get(body["kind"])
        if spec is not None:
            spec.payload.model_validate(payload)
    except ValueError as exc:  # JSON, or the kind's schema (ValidationError is a ValueError)
        if isinstance(exc, ValidationError):
            for problem in exc.errors():
                where = ".".join(str(p) for p in problem["loc"])
                errors["payload"] = f"{where}: {problem['msg']}" if where else str(problem["msg"])
                break
        else:
            errors["payload"] = 'a JSON object, e.g. {"url": "https://example.com"}'
    when, wrong = schedule_fields(values)
    body.update(when)
    errors.update(wrong)
    if body["type"] == "recurring":
        body["misfirePolicy"] = values.get("misfirePolicy") or "fire_once"
    return body, errors


@router.post("/tasks", response_class=HTMLResponse)
async def create_task(page: Changing) -> Response:
    form = await page.request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf"}
    body, errors = task_body(values)
    if errors:
        return await _task_form(page, values, errors, 422)
    try:
        task = await page.api("POST", "/api/v1/tasks", TaskCreated, json=body)
    except UpstreamError as error:
        if error.status not in (400, 403, 409, 422, 429):
            raise
        found = error.field_errors() or {"name": shown(error)}
        return await _task_form(
            page,
            values,
            {("payload" if k.startswith("payload") else k): v for k, v in found.items()},
            error.status,
        )
    return page.back_to(f"/tasks/{task.id}", "Task created.")


@dataclass(frozen=True)
class Upcoming:
    """A schedule's next runs as a page shows them: in the task's zone, and as instants
    (console.js shows them again in the viewer's zone); or why the schedule is wrong."""

    words: str = ""
    runs: tuple[str, ...] = ()
    instants: tuple[str, ...] = ()
    error: str | None = None


async def _cron_preview(page: SignedIn, cron: str, timezone: str) -> Upcoming:
    """The api's preview (GET /api/v1/cron/preview), its runs shown in the task's zone."""
    try:
        preview = await page.api(
            "GET", "/api/v1/cron/preview", CronPreview, params={"cron": cron, "timezone": timezone}
        )
        local = zone(timezone)
    except UpstreamError as error:
        if error.status != 422:
            raise
        return Upcoming(error=error.message)
    return Upcoming(
        words=preview.description,
        runs=tuple(r.astimezone(local).strftime("%a %Y-%m-%d %H:%M:%S %Z") for r in preview.runs),
        instants=tuple(r.isoformat() for r in preview.runs),
    )


async def _facts(page: Page, task_id: str) -> tuple[TaskOut, Upcoming | None]:
    """A task and, while it is scheduled, its next runs in its zone and in the viewer's."""
    task = await page.api("GET", f"/api/v1/tasks/{segment(task_id)}", TaskOut)
    upcoming = None
    if task.cron and task.status in (TaskStatus.ACTIVE, TaskStatus.PAUSED):
        upcoming = await _cron_preview(page, task.cron, task.timezone)
    return task, upcoming


@router.get("/tasks/cron-preview", response_class=HTMLResponse)
async def cron_preview(page: SignedIn, cron: str = "", timezone: str = "UTC") -> HTMLResponse:
    preview = await _cron_preview(page, cron[:120], timezone[:64]) if cron.strip() else None
    return page.render("_cron_preview.html", preview=preview)


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
async def task_detail(page: SignedIn, task_id: str) -> HTMLResponse:
    task, upcoming = await _facts(page, task_id)
    executions = await _executions(page, task.id)
    return page.render("task_detail.html", task=task, upcoming=upcoming, executions=executions)


@router.get("/tasks/{task_id}/facts", response_class=HTMLResponse)
async def task_facts(page: SignedIn, task_id: str) -> HTMLResponse:
    """The task's facts and actions alone: its status, last run and next run, updated live."""
    task, upcoming = await _facts(page, task_id)
    return page.render("_task_facts.html", task=task, upcoming=upcoming)


async def _executions(page: Page, task_id: str) -> Pager[ExecutionOut]:
    return await page.listing(ExecutionOut, f"/api/v1/tasks/{task_id}/executions", list_params(page.request))


@router.get("/tasks/{task_id}/executions", response_class=HTMLResponse)
async def execution_rows(page: SignedIn, task_id: str) -> HTMLResponse:
    """The executions table alone: htmx swaps it in when the api says one of them changed."""
    return page.render(
        "_execution_rows.html", executions=await _executions(page, segment(task_id)), task_id=segment(task_id)
    )


@router.post("/tasks/{task_id}/{action}")
async def task_action(page: Changing, task_id: str, action: str) -> Response:
    if action == "delete":
        await page.api("DELETE", f"/api/v1/tasks/{segment(task_id)}")
        return page.back_to("/tasks", "Task deleted.")
    if action not in ACTIONS:
        return page.back_to(f"/tasks/{segment(task_id)}", f"Unknown action {action[:20]!r}.")
    await page.api("POST", f"/api/v1/tasks/{segment(task_id)}/{action}")
    done = {"run": "Run queued.", "pause": "Paused.", "resume": "Resumed.", "cancel": "Cancelled."}
    return page.back_to(f"/tasks/{segment(task_id)}", done[action])
