"""Helpers for task-engine tests: poll an execution until it is in a given state."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

FINISHED = {"completed", "dead", "cancelled"}


async def wait_execution(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    execution_id: str,
    statuses: set[str] = FINISHED,
    within: float = 30,
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = (await api.get(f"/api/v1/executions/{execution_id}", headers=headers)).json()
        if body.get("status") in statuses:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"execution {execution_id} never reached {statuses}: {body}")
