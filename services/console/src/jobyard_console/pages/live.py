"""``GET /live``: the api's events for this session, renamed for htmx triggers.

The browser cannot call the api itself (it holds no token), so the console opens the
api's ``/api/v1/events`` stream with the session's token and passes each event on under
names an element can wait for: ``execution-<id>`` and ``task-<taskId>`` for an
execution, ``import-<id>`` and ``imports`` for an import. A page's rows say
``hx-trigger="sse:task-…"`` and fetch their new state from the console when it fires;
the event's data is never put into the page as HTML.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from jobyard_console.web import SignedIn

router = APIRouter(tags=["live"])


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


@router.get("/live", response_class=StreamingResponse)
async def live(page: SignedIn) -> StreamingResponse:
    opened = page.upstream.stream(page.caller, "api", "/api/v1/events")
    response = await opened.__aenter__()

    async def relay() -> AsyncIterator[str]:
        try:
            yield "retry: 3000\n\n"
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
        finally:
            await opened.__aexit__(None, None, None)

    return StreamingResponse(
        relay(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
