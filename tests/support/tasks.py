"""Helpers for task-engine tests: poll an execution until it is in a given state."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.waiting import eventually

FINISHED = {"completed", "dead", "cancelled"}


async def wait_execution(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    execution_id: str,
    statuses: set[str] = FINISHED,
    within: float = 30,
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def reached() -> dict[str, Any] | None:
        nonlocal seen
        seen = (await api.get(f"/api/v1/executions/{execution_id}", headers=headers)).json()
        return seen if seen.get("status") in statuses else None

    return await eventually(
        reached, within=within, what=lambda: f"execution {execution_id} to reach {statuses}: {seen}"
    )
