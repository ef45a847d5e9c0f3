"""``GET /api/v1/events``: the caller's live status changes as Server-Sent Events.

A stream lives as long as its subscriber's rights: before each event and at each
keep-alive it asks again who the caller is now (:meth:`Authenticator.current`, cached a
second). A deactivation, a revoked API key or a change of role ends it with a last
``event: closed`` naming why (a demoted admin must not keep receiving admins' events; a
client reconnects to get the stream its rights allow now).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from jobyard_libs.auth import Authenticator, Principal
from jobyard_libs.errors import JobyardError
from jobyard_libs.streams import ending_on_stop
from starlette.background import BackgroundTask

from jobyard_api.deps import CurrentPrincipal
from jobyard_api.events.hub import EventHub

router = APIRouter(prefix="/api/v1", tags=["events"])


@router.get("/events", response_class=StreamingResponse)
async def events(principal: CurrentPrincipal, request: Request) -> StreamingResponse:
    """Executions (and, for admins, imports) of the caller as they change.

    Each event is ``event: execution|import`` with ``data: {id, status, ...}``. A comment
    line is sent every JOBYARD_SSE_KEEPALIVE_SECONDS (15 s) so that proxies keep the connection
    open. A change of the caller's rights ends the stream with ``event: closed`` and
    ``data: {"reason": ...}`` (account_deactivated, rights_changed, unauthorized). Streams are
    capped per user and per process (429).
    """
    hub: EventHub = request.app.state.events_hub
    subscription = hub.open(principal)

    authenticator: Authenticator = request.app.state.authenticator
    keepalive: float = request.app.state.settings.sse_keepalive_seconds

    async def stream() -> AsyncIterator[str]:
        try:
            yield "retry: 3000\n: connected\n\n"
            while not await request.is_disconnected():
                event = await subscription.next(keepalive)
                ended = await _rights_changed(authenticator, principal)
                if ended is not None:
                    yield f"event: closed\ndata: {json.dumps({'reason': ended})}\n\n"
                    return
                if event is None:
                    yield ": keep-alive\n\n"
                    continue
                yield f"event: {event['type']}\ndata: {json.dumps(event['data'])}\n\n"
        finally:
            subscription.close()

    return StreamingResponse(
        ending_on_stop(stream()),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=BackgroundTask(subscription.close),  # if the stream never started
    )


async def _rights_changed(authenticator: Authenticator, opened_as: Principal) -> str | None:
    """Why the stream must end (the caller's rights are not what it opened with), or ``None``."""
    try:
        now = await authenticator.current(opened_as)
    except JobyardError as refused:  # deactivated, key revoked; 503 too: rights unconfirmed
        return refused.code
    return "rights_changed" if now.is_admin != opened_as.is_admin else None
