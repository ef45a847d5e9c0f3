"""The one way a test waits: poll a probe until it answers, within a deadline that names what
was awaited. Never a fixed sleep (a signal, not a guess: docs/testing.md).

``eventually`` is the async one; ``wait_until`` (the dev stack's own, re-exported) the
blocking one, for tests and fixtures that are not coroutines.

Usage
-----

::

    doc = await eventually(lambda: db.executions.find_one({"status": "dead"}), what="a dead execution")
    wait_until(lambda: port_open(8000), timeout=30, what="the api's port")
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from jobyard_devstack.net import wait_until

__all__ = ["eventually", "wait_until"]

T = TypeVar("T")
INTERVAL = 0.05


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    within: float = 30,
    what: str | Callable[[], str],
    interval: float = INTERVAL,
) -> T:
    """The first answer of ``probe`` that is not ``None`` or false; ``AssertionError`` naming
    ``what`` (a string, or a function asked then, to show the last state seen) after ``within``."""
    deadline = time.monotonic() + within
    while True:
        answer = await probe()
        if answer:
            return answer
        if time.monotonic() >= deadline:
            named = what() if callable(what) else what
            raise AssertionError(f"timed out after {within:.0f} s waiting for {named}")
        await asyncio.sleep(interval)
