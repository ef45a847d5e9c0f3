from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from jobyard_libs.documents import Oid
from jobyard_libs.errors import ValidationFailed
from jobyard_libs.schemas import Page, Pagination, page_of, path_id
from jobyard_libs.tasks.models import TaskStatus, TaskType
from jobyard_libs.tasks.replies import (
    BatchCreated,
    CronPreview,
    ExecutionOut,
    RunStarted,
    TaskCounts,
    TaskCreated,
    TaskOut,
)
from jobyard_libs.tasks.schedule import BadSchedule, describe, next_runs, zone

from jobyard_api.deps import CurrentPrincipal, Executions, SubmitLimit, Tasks
from jobyard_api.tasks.schemas import BatchIn, TaskIn, TaskPatch

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])
cron_router = APIRouter(prefix="/api/v1/cron", tags=["tasks"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
TaskId = Annotated[Oid, path_id("task_id")]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_task(
    body: TaskIn,
    principal: CurrentPrincipal,
    tasks: Tasks,
    limit: SubmitLimit,
    idempotency_key: IdempotencyKey = None,
) -> TaskCreated:
    await limit.take(principal.subject)
    return await tasks.submit(body, principal, idempotency_key)


@router.post(":batch", status_code=status.HTTP_201_CREATED)
async def create_tasks(
    body: BatchIn, principal: CurrentPrincipal, tasks: Tasks, limit: SubmitLimit
) -> BatchCreated:
    if len(body.tasks) > tasks.batch_max:
        raise ValidationFailed(f"at most {tasks.batch_max} tasks per batch", field="tasks")
    await limit.take(principal.subject, len(body.tasks))
    created, executions, queued = await tasks.submit_batch(body.tasks, principal)
    return BatchCreated(
        task_ids=[str(t.id) for t in created], execution_ids=[str(e.id) for e in executions], queued=queued
    )


@router.get("")
async def list_tasks(
    principal: CurrentPrincipal,
    tasks: Tasks,
    page: Pagination,
    status_: Annotated[TaskStatus | None, Query(alias="status")] = None,
    type_: Annotated[TaskType | None, Query(alias="type")] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    name: Annotated[str | None, Query(max_length=200, description="part of the name, any case")] = None,
    owner_id: Annotated[str | None, Query(alias="ownerId", max_length=200, description="admins")] = None,
) -> Page[TaskOut]:
    """The caller's tasks (an admin's: everyone's, or one owner's), newest first."""
    found = await tasks.page(
        principal, page.window, status=status_, type_=type_, kind=kind, name=name, owner=owner_id
    )
    shown = {out.id: out for out in await tasks.views(found.items, principal)}
    return page_of(found, page, lambda task: shown[str(task.id)])


@router.get("/counts")
async def count_tasks(
    principal: CurrentPrincipal,
    tasks: Tasks,
    owner_id: Annotated[str | None, Query(alias="ownerId", max_length=200, description="admins")] = None,
) -> TaskCounts:
    """The caller's tasks by state: what the tasks list's tabs show."""
    return await tasks.counts(principal, owner_id)


@router.get("/{task_id}")
async def get_task(task_id: TaskId, principal: CurrentPrincipal, tasks: Tasks) -> TaskOut:
    return await tasks.view(await tasks.get(task_id, principal), principal)


@router.patch("/{task_id}")
async def change_task(task_id: TaskId, body: TaskPatch, principal: CurrentPrincipal, tasks: Tasks) -> TaskOut:
    return await tasks.view(await tasks.change(task_id, body, principal), principal)


@router.delete("/{task_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_task(task_id: TaskId, principal: CurrentPrincipal, tasks: Tasks) -> Response:
    await tasks.delete(task_id, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{task_id}/run", status_code=status.HTTP_202_ACCEPTED)
async def run_task(
    task_id: TaskId, principal: CurrentPrincipal, tasks: Tasks, limit: SubmitLimit
) -> RunStarted:
    """Run now: one more execution, counted against the submit limit like a new task."""
    await limit.take(principal.subject)
    return RunStarted(execution_id=str((await tasks.run_now(task_id, principal)).id))


@router.post("/{task_id}/pause")
async def pause_task(task_id: TaskId, principal: CurrentPrincipal, tasks: Tasks) -> TaskOut:
    return await tasks.view(await tasks.pause(task_id, principal), principal)


@router.post("/{task_id}/resume")
async def resume_task(task_id: TaskId, principal: CurrentPrincipal, tasks: Tasks) -> TaskOut:
    return await tasks.view(await tasks.resume(task_id, principal), principal)


@router.post("/{task_id}/cancel")
async def cancel_task(task_id: TaskId, principal: CurrentPrincipal, tasks: Tasks) -> TaskOut:
    """No more runs; queued executions are cancelled and running ones stopped."""
    return await tasks.view(await tasks.cancel(task_id, principal), principal)


@router.get("/{task_id}/executions")
async def list_executions(
    task_id: TaskId, principal: CurrentPrincipal, tasks: Tasks, executions: Executions, page: Pagination
) -> Page[ExecutionOut]:
    task = await tasks.get(task_id, principal)
    found = await executions.of_task(task, page.window)
    return page_of(found, page, lambda execution: executions.view(execution, principal))


@cron_router.get("/preview")
async def preview_cron(
    _: CurrentPrincipal,
    cron: Annotated[str, Query(min_length=1, max_length=120, description="5 fields, or 6 with seconds last")],
    timezone: Annotated[str, Query(max_length=64, description="an IANA zone, e.g. Europe/Berlin")] = "UTC",
    after: Annotated[
        datetime | None, Query(description="runs strictly after this instant; default now")
    ] = None,
    count: Annotated[int, Query(ge=1, le=50)] = 5,
) -> CronPreview:
    """The next runs of a cron in a zone (UTC instants) and its description in words: what a
    recurring task with this schedule would do, daylight-saving changes included."""
    try:
        zone(timezone)
    except BadSchedule as exc:
        raise ValidationFailed(str(exc), field="timezone") from exc
    moment = datetime.now(UTC) if after is None else after if after.tzinfo else after.replace(tzinfo=UTC)
    try:
        runs = next_runs(cron, timezone, after=moment, count=count)
        words = describe(cron)
    except BadSchedule as exc:
        raise ValidationFailed(str(exc), field="cron") from exc
    return CronPreview(runs=runs, description=words)
