"""Server-Sent Events: a user's stream receives their executions' status changes, and only theirs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jobyard_worker.settings import WorkerSettings

from tests.conftest import Isolation
from tests.support.auth_service import AuthService
from tests.support.imports import running_worker, settings_for
from tests.support.processes import bin_path, running_service
from tests.support.waiting import eventually


@pytest.fixture
def api_url(isolation: Isolation, auth: AuthService, tmp_path: Path) -> Iterator[str]:
    env = {**isolation.env(), "JOBYARD_AUTH_URL": auth.url, "JOBYARD_AUTH_JWKS_URL": auth.jwks_url}
    with running_service([bin_path("jobyard-api"), "serve"], env, tmp_path / "api.log") as url:
        yield url


async def _collect(
    url: str, headers: dict[str, str], into: list[dict[str, Any]], ready: asyncio.Event
) -> None:
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=60.0)) as http,
        http.stream("GET", f"{url}/api/v1/events", headers=headers) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        event: str | None = None
        async for line in stream.aiter_lines():
            if line.startswith(": connected"):
                ready.set()
            elif line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event:
                into.append({"event": event, **json.loads(line.removeprefix("data: "))})


async def test_a_user_sees_their_own_executions_change(
    api_url: str, auth: AuthService, isolation: Isolation
) -> None:
    mine, theirs = auth.user_headers("sse-ann@example.com"), auth.user_headers("sse-bob@example.com")
    seen_by_me: list[dict[str, Any]] = []
    seen_by_them: list[dict[str, Any]] = []
    ready_me, ready_them = asyncio.Event(), asyncio.Event()
    listeners = [
        asyncio.create_task(_collect(api_url, mine, seen_by_me, ready_me)),
        asyncio.create_task(_collect(api_url, theirs, seen_by_them, ready_them)),
    ]
    try:
        await asyncio.wait_for(asyncio.gather(ready_me.wait(), ready_them.wait()), 30)
        with running_worker(settings_for(isolation, WorkerSettings)):
            async with httpx.AsyncClient(base_url=api_url) as http:
                created = (
                    await http.post("/api/v1/tasks", json={"name": "live", "kind": "noop"}, headers=mine)
                ).json()
                # past JOBYARD_TASK_PROCESSING_WRITE_AFTER_MS (250 ms): written, and shown, running
                longer = {"name": "longer", "kind": "sleep", "payload": {"seconds": 0.6}}
                slow = (await http.post("/api/v1/tasks", json=longer, headers=mine)).json()

            async def completed() -> bool:
                ended = {e["id"] for e in seen_by_me if e["status"] == "completed"}
                return {created["executionId"], slow["executionId"]} <= ended

            await eventually(completed, within=30, what="the completed event")
    finally:
        for listener in listeners:
            listener.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)

    def statuses(execution_id: str) -> list[str]:
        return [e["status"] for e in seen_by_me if e["id"] == execution_id]

    # a short attempt is written once, with its end: what the record said is what was shown
    assert statuses(created["executionId"]) == ["completed"]
    assert statuses(slow["executionId"]) == ["processing", "completed"]
    assert all(e["event"] == "execution" for e in seen_by_me)
    assert not any(e["id"] == created["executionId"] for e in seen_by_them)


async def test_events_need_credentials(api_url: str) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{api_url}/api/v1/events")
    assert response.status_code == 401
