"""``GET /live``: the api's events for this session, renamed for htmx triggers.

The browser cannot call the api itself (it holds no token), so the console opens the
api's ``/api/v1/events`` stream with the session's token and passes each event on under
names an element can wait for: ``execution-<id>`` and ``task-<taskId>`` for an
execution, ``import-<id>`` and ``imports`` for an import. A page's rows say
``hx-trigger="sse:task-…"`` and fetch their new state from the console when it fires;
the event's data is never put into the page as HTML.

A live page never drops and never misses a change: the api's keep-alives (every 15 s) are
passed on; a quiet or broken upstream stream (a read timeout longer than that keep-alive,
an api restart, a closed stream after a change of rights) is opened again while the
browser stays connected, and every time the stream (re)starts the browser gets
``resync``: every live element fetches its current state, so whatever changed between
the page's render and its subscription, or during a reconnect, is shown.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import structlog
from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from jobyard_libs.streams import ending_on_stop

from jobyard_console.settings import ConsoleSettings
from jobyard_console.upstream import SessionExpired, UpstreamError
from jobyard_console.web import Page, SignedIn

router = APIRouter(tags=["live"])
log = structlog.get_logger(__name__)
RESYNC = "event: resync\ndata: subscribed\n\n"
SIGNED_OUT = "event: signed-out\ndata: the session ended\n\n"
BACKOFF_MAX_SECONDS = 5.0
# what ends one upstream stream without ending the browser's: silence past the read timeout,
# a dropped or refused connection, an api that is restarting
UPSTREAM_ENDS = (httpx.TransportError, UpstreamError)


def renamed(kind: str, data: str) -> list[str]:
    """The htmx event names an api event fires.

    >>> renamed("execution", '{"id": "e1", "taskId": "t1", "status": "completed"}')
    ['execution-e1', 'task-t1', 'executions']
    >>> renamed("import", '{"id": "l1"}')
    ['import-l1', 'imports']
    """
    try:
        summary = json.loads(data)
    except ValueError:
        return []
    ids = {k: "".join(c for c in str(summary.get(k, "")) if c.isalnum())[:64] for k in ("id", "taskId")}
    if kind == "execution":
        return [f"execution-{ids['id']}", f"task-{ids['taskId']}", "executions"]
    if kind == "import":
        return [f"import-{ids['id']}", "imports"]
    return []


async def _relay_once(page: Page, read_timeout: float) -> AsyncIterator[str]:
    """One upstream stream, passed on until it ends (for whatever reason)."""
    async with page.upstream.stream(
        page.caller, "api", "/api/v1/events", read_timeout=read_timeout
    ) as response:
        yield RESYNC  # subscribed: every live element fetches what it shows now
        kind = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:") and kind:
                for name in renamed(kind, line[5:].strip()):
                    yield f"event: {name}\ndata: changed\n\n"
                kind = ""
            elif line.startswith(":"):
                yield ": keep-alive\n\n"


@router.get("/live", response_class=StreamingResponse)
async def live(page: SignedIn) -> StreamingResponse:
    settings: ConsoleSettings = page.request.app.state.settings

    async def relay() -> AsyncIterator[str]:
        yield "retry: 3000\n\n"
        backoff = 0.5
        while not await page.request.is_disconnected():
            try:
                async for chunk in _relay_once(page, settings.console_live_read_timeout_seconds):
                    yield chunk
                    backoff = 0.5
            except SessionExpired:
                yield SIGNED_OUT
                return
            except UPSTREAM_ENDS as ended:  # a normal end: open it again
                log.info("live_stream_reconnecting", reason=type(ended).__name__)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)

    return StreamingResponse(
        ending_on_stop(relay()),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
