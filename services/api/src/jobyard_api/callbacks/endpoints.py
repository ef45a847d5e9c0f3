from __future__ import annotations

from fastapi import APIRouter, Request

from jobyard_api.callbacks.service import CallbackService
from jobyard_api.executions.schemas import ExecutionOut
from jobyard_api.executions.service import to_out

router = APIRouter(prefix="/api/v1/callbacks", tags=["callbacks"])
PREFIX = router.prefix + "/"


@router.post("/{execution_id}")
async def receive_callback(execution_id: str, request: Request) -> ExecutionOut:
    """Signed with the execution's callback secret (HMAC-SHA256; X-Jobyard-Timestamp,
    X-Jobyard-Signature); no token needed. Unsigned or stale requests are refused before
    the body is read; the body is bounded (JOBYARD_CALLBACK_MAX_BODY_BYTES)."""
    callbacks: CallbackService = request.app.state.api.callbacks
    callbacks.precheck(request.headers)
    body = await request.body()
    return to_out(await callbacks.receive(execution_id, body, request.headers))
