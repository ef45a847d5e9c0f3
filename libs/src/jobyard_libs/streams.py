"""Streaming responses (server-sent events) that end when their process is asked to stop.

On SIGTERM uvicorn stops accepting and then waits for every open response to finish. A
live stream never finishes by itself, so one connected page kept a pod running until
Kubernetes' SIGKILL, 30 s later, on every rollout. :func:`serve` (jobyard_libs.serve)
calls :func:`stop_streams` as uvicorn begins its shutdown; every stream wrapped in
:func:`ending_on_stop` then sends ``event: closed`` with ``{"reason": "server_stopping"}``
and ends, the process exits at once, and the browser's EventSource reconnects (``retry``)
to a replica that is not stopping.

Usage
-----

::

    return StreamingResponse(ending_on_stop(stream()), media_type="text/event-stream")
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from collections.abc import AsyncIterator

STOPPING = "event: closed\ndata: " + json.dumps({"reason": "server_stopping"}) + "\n\n"
# one event per loop (a process serves on one; tests make many, which must not be kept alive)
_stopping: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Event] = weakref.WeakKeyDictionary()


def _event() -> asyncio.Event:
    return _stopping.setdefault(asyncio.get_running_loop(), asyncio.Event())


def stop_streams(loop: asyncio.AbstractEventLoop) -> None:
    """Tell every stream on ``loop`` to end; safe from a signal handler or another thread."""
    event = _stopping.setdefault(loop, asyncio.Event())
    loop.call_soon_threadsafe(event.set)


async def ending_on_stop(stream: AsyncIterator[str]) -> AsyncIterator[str]:
    """``stream``'s chunks, until it ends or the process is stopping (then :data:`STOPPING`)."""
    stopping = _event()
    stopped = asyncio.ensure_future(stopping.wait())
    try:
        while True:
            chunk = asyncio.ensure_future(anext(stream))
            await asyncio.wait({chunk, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not chunk.done():
                chunk.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await chunk
                yield STOPPING
                return
            try:
                yield chunk.result()
            except StopAsyncIteration:
                return
    finally:
        stopped.cancel()
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
