from __future__ import annotations

from fastapi import APIRouter, Response, status
from fastapi.responses import StreamingResponse
from jobyard_libs.schemas import Page

from jobyard_api.deps import CurrentPrincipal, Executions, Pagination
from jobyard_api.executions.schemas import DeadLetterOut, ExecutionOut
from jobyard_api.executions.service import dead_letter_out

router = APIRouter(prefix="/api/v1", tags=["executions"])


@router.get("/executions/{execution_id}")
async def get_execution(
    execution_id: str, principal: CurrentPrincipal, executions: Executions
) -> ExecutionOut:
    return executions.view(await executions.get(execution_id, principal), principal)


@router.get("/executions/{execution_id}/artifact", response_class=StreamingResponse)
async def download_artifact(
    execution_id: str, principal: CurrentPrincipal, executions: Executions
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


@router.post("/executions/{execution_id}/cancel")
async def cancel_execution(
    execution_id: str, principal: CurrentPrincipal, executions: Executions
) -> ExecutionOut:
    """A queued execution is cancelled at once; a running one is stopped within a second."""
    return executions.view(await executions.cancel(execution_id, principal), principal)


@router.get("/dead-letters")
async def list_dead_letters(
    principal: CurrentPrincipal, executions: Executions, page: Pagination
) -> Page[DeadLetterOut]:
    items, total = await executions.dead_letter_page(principal, page.skip, page.limit)
    return Page(items=[dead_letter_out(d) for d in items], page=page.page, limit=page.limit, total=total)


@router.post("/dead-letters/{dead_id}/replay", status_code=status.HTTP_202_ACCEPTED)
async def replay_dead_letter(
    dead_id: str, principal: CurrentPrincipal, executions: Executions
) -> ExecutionOut:
    return executions.view(await executions.replay(dead_id, principal), principal)


@router.delete("/dead-letters/{dead_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_dead_letter(dead_id: str, principal: CurrentPrincipal, executions: Executions) -> Response:
    await executions.discard(dead_id, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
