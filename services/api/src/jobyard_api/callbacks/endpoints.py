from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from jobyard_libs.documents import Oid
from jobyard_libs.schemas import path_id
from jobyard_libs.tasks.replies import ExecutionOut

from jobyard_api.deps import Callbacks
from jobyard_api.executions.service import execution_view

router = APIRouter(prefix="/api/v1/callbacks", tags=["callbacks"])
PREFIX = router.prefix + "/"
ExecutionId = Annotated[Oid, path_id("execution_id")]


@router.post("/{execution_id}")
async def receive_callback(execution_id: ExecutionId, request: Request, callbacks: Callbacks) -> ExecutionOut:
    """Signed with the execution's callback secret (HMAC-SHA256; X-Jobyard-Timestamp,
    X-Jobyard-Signature); no token needed. Unsigned or stale requests are refused before
    the body is read; the body is bounded (JOBYARD_CALLBACK_MAX_BODY_BYTES)."""
    callbacks.precheck(request.headers)
    body = await request.body()
    settled = await callbacks.receive(execution_id, body, request.headers)
    return execution_view(settled, None, callbacks.outcomes.settings)
