from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from jobyard_libs.documents import Oid
from jobyard_libs.schemas import Page, Pagination, page_of, path_id
from jobyard_libs.tasks.models import ExecutionStatus
from jobyard_libs.tasks.replies import BulkOut, ExecutionOut
from pydantic import AwareDatetime

from jobyard_api.deps import CurrentPrincipal, Executions
from jobyard_api.executions.schemas import BulkIn, ExecutionFilterIn

router = APIRouter(prefix="/api/v1/executions", tags=["executions"])
ExecutionId = Annotated[Oid, path_id("execution_id")]


@router.get("")
async def list_executions(
    principal: CurrentPrincipal,
    executions: Executions,
    page: Pagination,
    status_: Annotated[ExecutionStatus | None, Query(alias="status")] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    task_name: Annotated[str | None, Query(alias="taskName", max_length=200)] = None,
    owner_id: Annotated[str | None, Query(alias="ownerId", max_length=200)] = None,
    since: Annotated[AwareDatetime | None, Query()] = None,
    until: Annotated[AwareDatetime | None, Query()] = None,
) -> Page[ExecutionOut]:
    """The caller's executions (an admin's: everyone's, or one owner's), newest first, by
    status, kind, part of the task's name and creation time: failures first with
    ``?status=dead`` or ``?status=failed``."""
    given = ExecutionFilterIn(
        status=status_, kind=kind, task_name=task_name, owner_id=owner_id, since=since, until=until
    )
    found = await executions.page(await executions.filter_of(given, principal), principal, page.window)
    shown = {out.id: out for out in await executions.views(found.items, principal)}
    return page_of(found, page, lambda execution: shown[str(execution.id)])


@router.post(":bulk")
async def bulk_action(body: BulkIn, principal: CurrentPrincipal, executions: Executions) -> BulkOut:
    """Replay or discard every dead execution the filter matches, or cancel every unfinished
    one, at most 10,000 a request (``capped`` says when more match). ``dryRun`` counts them
    first (the console asks for a confirmation with that count)."""
    return await executions.bulk(body, principal)


@router.get("/{execution_id}")
async def get_execution(
    execution_id: ExecutionId, principal: CurrentPrincipal, executions: Executions
) -> ExecutionOut:
    return await executions.detail(await executions.get(execution_id, principal), principal)


@router.get("/{execution_id}/artifact", response_class=StreamingResponse)
async def download_artifact(
    execution_id: ExecutionId, principal: CurrentPrincipal, executions: Executions
) -> StreamingResponse:
    """The file an execution produced (an export-jobs-csv CSV), streamed."""
    artifact = await executions.artifact(execution_id, principal)
    return StreamingResponse(
        artifact.chunks,
        media_type=artifact.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{artifact.filename}"',
            "Content-Length": str(artifact.length),
        },
    )


@router.post("/{execution_id}/cancel")
async def cancel_execution(
    execution_id: ExecutionId, principal: CurrentPrincipal, executions: Executions
) -> ExecutionOut:
    """A queued execution is cancelled at once; a running one is stopped within a second."""
    return executions.view(await executions.cancel(execution_id, principal), principal)
