"""An attempt claimed in Redis, written ``processing`` to MongoDB only if it runs long enough.

Most attempts of a busy platform end within milliseconds: writing ``processing`` for each
and then its outcome is two writes where one says it all. So an attempt the lifecycle
claimed in Redis (:mod:`jobyard_libs.tasks.claims`) is written only once it has run
``after`` seconds; what the live views, a cancel and the dead-worker sweep read from then
on is the record, as before. An attempt that ends sooner is written once, with its end.

Usage
-----

::

    attempt = WrittenLater(lifecycle, claimed, after=0.25)
    ...  # run it
    await lifecycle.finish_attempt(await attempt.settled(), status=...)
"""

from __future__ import annotations

import asyncio

import structlog
from jobyard_libs.tasks.documents import Execution
from jobyard_libs.tasks.lifecycle import ExecutionLifecycle

log = structlog.get_logger(__name__)


class WrittenLater:
    def __init__(self, lifecycle: ExecutionLifecycle, claimed: Execution, *, after: float) -> None:
        self.lifecycle, self.claimed = lifecycle, claimed
        self._write: asyncio.Task[Execution | None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        if not claimed.claim_stored:
            self._timer = asyncio.get_running_loop().call_later(after, self._start)

    def _start(self) -> None:
        self._timer = None
        self._write = asyncio.ensure_future(self.lifecycle.confirm_attempt(self.claimed))
        # an attempt that ends by an exception never asks for it: asyncio must not log it unread
        self._write.add_done_callback(lambda done: done.cancelled() or done.exception())

    @property
    def unwritten(self) -> bool:
        """Held by its claim alone, and never to be written by this."""
        return not self.claimed.claim_stored and self._write is None and self._timer is None

    def cancel(self) -> None:
        """Never write it (the attempt ended, or its message goes back on the queue)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def settled(self) -> Execution:
        """What the attempt's end is recorded against: the attempt as written, or its claim
        when it was not (the end then writes both). Nothing is written after this."""
        self.cancel()
        if self._write is None:
            return self.claimed
        try:
            written = await self._write
        except Exception as exc:  # its end writes it, or finds it moved; an outage shows there
            log.warning("attempt_not_written", execution_id=str(self.claimed.id), error=str(exc)[:300])
            return self.claimed
        return written if written is not None else self.claimed

    async def now(self) -> Execution:
        """Written now, if not yet (an attempt that goes on outside the worker)."""
        if self._timer is not None:
            self.cancel()
            self._start()
        return await self.settled()
