"""``GET /api/v1/events``: the caller's live status changes as Server-Sent Events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from jobyard_api.deps import CurrentPrincipal
from jobyard_api.events.hub import EventHub

router = APIRouter(prefix="/api/v1", tags=["events"])
KEEPALIVE_SECONDS = 15.0


@router.get("/events", response_class=StreamingResponse)
async def events(principal: CurrentPrincipal, request: Request) -> StreamingResponse:
    """Executions (and, for admins, imports) of the caller as they change.

    Each event is ``event: execution|import`` with ``data: {id, status, ...}``. A comment
    line is sent every 15 s so that proxies keep the connection open. Streams are capped
    per user and per process (429).
    """
    hub: EventHub = request.app.state.events_hub
    subscription = hub.open(principal)

    async def stream() -> AsyncIterator[str]:
        try:
            yield "retry: 3000\n: connected\n\n"
            while not await request.is_disconnected():
                event = await subscription.next(KEEPALIVE_SECONDS)
                if event is None:
                    yield ": keep-alive\n\n"
                    continue
                yield f"event: {event['type']}\ndata: {json.dumps(event['data'])}\n\n"
        finally:
            subscription.close()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=BackgroundTask(subscription.close),  # if the stream never started
    )
