"""The stack dump renders in both log formats (the fault suite reads it as JSON, from a real
worker: tests/faults/test_worker_stacks.py); ``make run`` logs to a console."""

from __future__ import annotations

import asyncio

import pytest
import structlog
from jobyard_worker import stacks

pytestmark = pytest.mark.unit


def test_every_line_of_a_dump_renders_on_a_console() -> None:
    async def waiting() -> None:
        await asyncio.sleep(60)

    async def dumped() -> list[structlog.typing.EventDict]:
        task = asyncio.create_task(waiting(), name="waiting")
        await asyncio.sleep(0)
        try:
            with structlog.testing.capture_logs() as lines:
                stacks.dump(asyncio.get_running_loop())
            return lines
        finally:
            task.cancel()

    lines = asyncio.run(dumped())
    assert [line["event"] for line in lines][-1] == "worker_stacks_done"
    assert any(line.get("task") == "waiting" for line in lines)
    console = structlog.dev.ConsoleRenderer(colors=False)
    for line in lines:
        rendered = console(None, line.pop("log_level"), dict(line))
        assert isinstance(rendered, str) and line["event"] in rendered
