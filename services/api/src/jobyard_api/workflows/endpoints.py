from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from jobyard_libs.documents import Oid, parse_id
from jobyard_libs.schemas import Page, Pagination, page_of, path_id
from jobyard_libs.workflows.models import WorkflowStatus
from jobyard_libs.workflows.replies import WorkflowOut

from jobyard_api.deps import CurrentPrincipal, SubmitLimit, Workflows
from jobyard_api.workflows.schemas import WorkflowIn

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"])
WorkflowId = Annotated[Oid, path_id("workflow_id")]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_workflow(
    body: WorkflowIn, principal: CurrentPrincipal, workflows: Workflows, limit: SubmitLimit
) -> WorkflowOut:
    """Steps that wait for steps: validated as a graph; the steps with no dependency start now
    (delayed: at ``scheduledAt``; recurring: a run of its own at each of ``cron``'s moments)."""
    await limit.take(principal.subject, len(body.steps))
    [shown] = await workflows.views([await workflows.submit(body, principal)])
    return shown


@router.get("")
async def list_workflows(
    principal: CurrentPrincipal,
    workflows: Workflows,
    page: Pagination,
    status_: Annotated[WorkflowStatus | None, Query(alias="status")] = None,
    owner_id: Annotated[str | None, Query(alias="ownerId", max_length=200, description="admins")] = None,
    recurring_id: Annotated[
        str | None,
        Query(
            alias="recurringId", pattern="^[0-9a-f]{24}$", description="the runs of this recurring workflow"
        ),
    ] = None,
) -> Page[WorkflowOut]:
    """The caller's workflows (an admin's: everyone's, or one owner's), newest first."""
    found = await workflows.page(
        principal,
        page.window,
        status=status_,
        owner=owner_id,
        recurring_id=None if recurring_id is None else parse_id(recurring_id),
    )
    shown = {out.id: out for out in await workflows.views(found.items)}
    return page_of(found, page, lambda workflow: shown[str(workflow.id)])


@router.get("/{workflow_id}")
async def get_workflow(
    workflow_id: WorkflowId, principal: CurrentPrincipal, workflows: Workflows
) -> WorkflowOut:
    [shown] = await workflows.views([await workflows.get(workflow_id, principal)])
    return shown


@router.post("/{workflow_id}/cancel")
async def cancel_workflow(
    workflow_id: WorkflowId, principal: CurrentPrincipal, workflows: Workflows
) -> WorkflowOut:
    """Cancels its waiting steps and stops its running ones (a recurring workflow: starts no more
    runs); 409 when it has ended."""
    [shown] = await workflows.views([await workflows.cancel(workflow_id, principal)])
    return shown
