"""Group commit: many concurrent requests, one round trip.

A worker process runs its actors' coroutines on one event loop. Requests that arrive
within ``window`` of the first one (or until ``max_size`` are waiting) are handed to
``flush`` together, and each caller gets its own answer, or the batch's exception. A
caller returns only once its batch is written: nothing is acknowledged before it is
durable.

Usage
-----

::

    claims = Coalescer(transitions.start_attempts_batch, window=0.002, max_size=256)
    claimed = await claims.submit(execution_id)   # one update_many for everyone waiting
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Req = TypeVar("Req")
Res = TypeVar("Res")


class Coalescer(Generic[Req, Res]):
    def __init__(
        self, flush: Callable[[list[Req]], Awaitable[list[Res]]], *, window: float, max_size: int
    ) -> None:
        self.flush, self.window, self.max_size = flush, window, max_size
        self._pending: list[tuple[Req, asyncio.Future[Res]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, request: Req) -> Res:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Res] = loop.create_future()
        self._pending.append((request, answer))
        if len(self._pending) >= self.max_size:
            self._go()
        elif self._timer is None:
            self._timer = loop.call_later(self.window, self._go)
        return await answer

    def _go(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._write(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _write(self, batch: list[tuple[Req, asyncio.Future[Res]]]) -> None:
        try:
            results = await self.flush([request for request, _ in batch])
        except Exception as exc:  # every caller of the batch sees the failure (and retries)
            for _, answer in batch:
                if not answer.done():
                    answer.set_exception(exc)
            return
        for (_, answer), result in zip(batch, results, strict=True):
            if not answer.done():
                answer.set_result(result)
