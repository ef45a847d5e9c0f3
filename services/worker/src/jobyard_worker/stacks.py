"""``kill -USR1`` a worker process: it logs where every thread and every coroutine waits.

Sidekiq's TTIN, for an async worker: a thread dump alone shows the event loop thread in
``select`` and says nothing of the actors' coroutines it runs. Each coroutine is followed
down what it awaits (``cr_await``), to the innermost frame and the future it waits on, so
an attempt that does not end names the line it waits at. One ``worker_stacks`` line per
thread and per task, written from the process's main thread (where Python runs signal
handlers), not the event loop's: a blocked loop does not stop the dump.

Usage
-----

::

    kubectl exec deploy/jobyard-worker -- sh -c 'kill -USR1 -1'   # then read its logs
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from types import FrameType
from typing import Any

import structlog

log = structlog.get_logger(__name__)
DEEPEST = 64  # awaits followed from one task at most


def _frame_line(frame: FrameType) -> str:
    code = frame.f_code
    return f"{code.co_filename}:{frame.f_lineno} in {code.co_name}"


def awaited(awaitable: Any) -> Iterator[str]:
    """The frames of a suspended coroutine (or generator) and of every coroutine it awaits,
    outermost first, down to the innermost."""
    for _ in range(DEEPEST):
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is None:
            return
        yield _frame_line(frame)
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)


def task_stacks(loop: asyncio.AbstractEventLoop) -> list[tuple[str, list[str]]]:
    """Each unfinished task on ``loop``, by name, with the chain it waits in and the future
    it waits on. Safe from any thread: the tasks are only read."""
    stacks = []
    for task in asyncio.all_tasks(loop):
        if task.done():
            continue
        chain = list(awaited(task.get_coro()))
        waiter = getattr(task, "_fut_waiter", None)  # asyncio's own name, in C and Python
        if waiter is not None:
            chain.append(f"waits on {waiter!r}"[:500])
        stacks.append((task.get_name(), chain))
    return stacks


def thread_stacks() -> list[tuple[str, list[str]]]:
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    return [
        (names.get(ident, str(ident)), [line.strip() for line in traceback.format_stack(frame)])
        for ident, frame in sys._current_frames().items()
    ]


def dump(loop: asyncio.AbstractEventLoop | None) -> None:
    threads, tasks = thread_stacks(), task_stacks(loop) if loop is not None else []
    for name, frames in threads:  # not ``stack``: structlog renders that key as preformatted text
        log.warning("worker_stacks", thread=name, frames=frames)
    for name, chain in tasks:
        log.warning("worker_stacks", task=name, awaits=chain)
    log.warning("worker_stacks_done", threads=len(threads), tasks=len(tasks))


def install(loop: asyncio.AbstractEventLoop | None) -> None:
    """SIGUSR1 dumps. Only from a process's main thread, where Python runs signal handlers (a
    worker started in a test's thread has none)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGUSR1, lambda _signum, _frame: dump(loop))
