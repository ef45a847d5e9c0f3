from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from jobyard_libs.documents import Oid
from jobyard_libs.schemas import path_id

from jobyard_api.deps import CurrentPrincipal, Executions
from jobyard_api.executions.schemas import ExecutionOut

router = APIRouter(prefix="/api/v1/executions", tags=["executions"])
ExecutionId = Annotated[Oid, path_id("execution_id")]


@router.get("/{execution_id}")
async def get_execution(
    execution_id: ExecutionId, principal: CurrentPrincipal, executions: Executions
) -> ExecutionOut:
    return executions.view(await executions.get(execution_id, principal), principal)


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
