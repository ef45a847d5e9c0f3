"""``GET /api/v1/events``: the caller's live status changes as Server-Sent Events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from jobyard_libs.app import Resources
from jobyard_libs.events import ADMINS, channel

from jobyard_api.deps import CurrentPrincipal

router = APIRouter(prefix="/api/v1", tags=["events"])
KEEPALIVE_SECONDS = 15.0


@router.get("/events", response_class=StreamingResponse)
async def events(principal: CurrentPrincipal, request: Request) -> StreamingResponse:
    """Executions (and, for admins, imports) of the caller as they change.

    Each event is ``event: execution|import`` with ``data: {id, status, ...}``. A comment
    line is sent every 15 s so that proxies keep the connection open.
    """
    resources: Resources = request.app.state.resources
    audiences = [principal.subject] + ([ADMINS] if principal.is_admin else [])
    channels = [channel(resources.keys, a) for a in audiences]

    async def stream() -> AsyncIterator[str]:
        pubsub = resources.redis.pubsub()
        await pubsub.subscribe(*channels)
        try:
            yield "retry: 3000\n: connected\n\n"
            while not await request.is_disconnected():
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=KEEPALIVE_SECONDS)
                if message is None:
                    yield ": keep-alive\n\n"
                    continue
                event = json.loads(message["data"])
                yield f"event: {event['type']}\ndata: {json.dumps(event['data'])}\n\n"
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis leaves it unannotated

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
