from __future__ import annotations

from fastapi import APIRouter, Request

from jobyard_api.callbacks.service import CallbackService
from jobyard_api.executions.schemas import ExecutionOut
from jobyard_api.executions.service import to_out

router = APIRouter(prefix="/api/v1/callbacks", tags=["callbacks"])


@router.post("/{execution_id}")
async def receive_callback(execution_id: str, request: Request) -> ExecutionOut:
    """Signed with HMAC-SHA256 (X-Jobyard-Timestamp, X-Jobyard-Signature); no token needed."""
    callbacks: CallbackService = request.app.state.api.callbacks
    body = await request.body()
    return to_out(await callbacks.receive(execution_id, body, dict(request.headers)))
