"""Executions by outcome across tasks, and bulk actions on everything a filter matches."""

from __future__ import annotations

from typing import Any

import httpx
from jobyard_worker.settings import WorkerSettings

from tests.conftest import Isolation
from tests.support.auth_service import AuthService
from tests.support.factories import a_task, store
from tests.support.imports import running_worker, settings_for
from tests.support.tasks import wait_execution
from tests.support.waiting import eventually

FAST = {"task_retry_base_ms": 20, "task_retry_max_ms": 100, "task_cancel_poll_seconds": 0.05}


async def submit(api: httpx.AsyncClient, me: dict[str, str], name: str, **fields: Any) -> str:
    body = {"name": name, "kind": "sleep", "payload": {"seconds": 0}, "maxRetries": 0, **fields}
    response = await api.post("/api/v1/tasks", json=body, headers=me)
    assert response.status_code == 201, response.text
    execution_id: str = response.json()["executionId"]
    return execution_id


async def listed(api: httpx.AsyncClient, me: dict[str, str], **params: str) -> list[dict[str, Any]]:
    response = await api.get("/api/v1/executions", params=params, headers=me)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def bulk(api: httpx.AsyncClient, me: dict[str, str], action: str, **body: Any) -> dict[str, Any]:
    response = await api.post("/api/v1/executions:bulk", json={"action": action, **body}, headers=me)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_failures_first_and_bulk_actions_on_everything_matching(
    api: httpx.AsyncClient, auth: AuthService, isolation: Isolation
) -> None:
    me = auth.user_headers("oncall@example.com")
    other = auth.user_headers("bystander@example.com")
    # no worker yet: these wait in their queue, to be cancelled all at once
    waiting = [await submit(api, me, f"Long job {i}") for i in range(3)]
    theirs = await submit(api, other, "Long job of someone else")
    answer = await bulk(api, me, "cancel", filter={"taskName": "long JOB"}, dryRun=True)
    assert (answer["matched"], answer["done"]) == (3, 0)  # counted, nothing changed
    assert {e["status"] for e in await listed(api, me)} == {"pending"}
    answer = await bulk(api, me, "cancel", filter={"taskName": "long JOB"})
    assert (answer["matched"], answer["done"], answer["capped"]) == (3, 3, False)
    cancelled = await listed(api, me, status="cancelled")
    assert sorted(e["id"] for e in cancelled) == sorted(waiting)
    assert {e["taskName"] for e in cancelled} == {"Long job 0", "Long job 1", "Long job 2"}
    assert (await listed(api, other))[0]["status"] == "pending"  # another's work is out of reach
    assert [e["id"] for e in await listed(api, other)] == [theirs]

    settings = settings_for(isolation, WorkerSettings, **FAST)
    with running_worker(settings, threads=4):
        flaky = [
            await submit(api, me, name, payload={"seconds": 0, "failTimes": 9})
            for name in ("Flaky A", "Flaky B")
        ]
        fine = await submit(api, me, "Fine")
        for execution_id in (*flaky, fine):
            await wait_execution(api, me, execution_id)
        dead = await listed(api, me, status="dead")
        assert sorted(e["id"] for e in dead) == sorted(flaky)
        assert all("failing attempt 1" in e["error"] for e in dead)  # the last error, on the row
        assert [e["taskName"] for e in await listed(api, me, status="dead", taskName="flaky a")] == [
            "Flaky A"
        ]
        assert [e["id"] for e in await listed(api, me, status="completed")] == [fine]

        # replay every dead one matching: they run again (and die again: their failure is real)
        answer = await bulk(api, me, "replay", filter={"status": "dead"})
        assert (answer["matched"], answer["done"]) == (2, 2)
        for execution_id in flaky:
            again = await wait_execution(api, me, execution_id)
            assert (again["status"], again["replays"]) == ("dead", 1)
    # a replay or discard applies to dead ones alone, whatever the filter says
    assert (await bulk(api, me, "replay", filter={"status": "completed"}))["matched"] == 0
    answer = await bulk(api, me, "discard", filter={})
    assert (answer["matched"], answer["done"]) == (2, 2)
    assert (await api.get("/api/v1/dead-letters", headers=me)).json()["total"] == 0
    assert len(await listed(api, me, status="dead")) == 2  # discarded letters; the records stay

    # owners: a user cannot ask for someone else's; an admin sees one owner's on request
    refused = await api.get("/api/v1/executions", params={"ownerId": "x"}, headers=me)
    assert refused.status_code == 422 and "ownerId" in refused.text
    admin = auth.admin_headers()
    mine = await listed(api, admin, ownerId=auth.subject(me))
    assert len(mine) == 6 and {e["ownerId"] for e in mine} == {auth.subject(me)}
    bad = await api.get("/api/v1/executions", params={"since": "yesterday"}, headers=me)
    assert bad.status_code == 422 and "since" in bad.text


async def test_a_name_too_common_to_cover_every_task_is_refused_not_cut(
    api: httpx.AsyncClient, auth: AuthService, db: Any
) -> None:
    """A bulk action by task name covers every task so named, or none: never a silent subset."""
    me = auth.user_headers("many@example.com")
    owner = auth.subject(me)
    await store(db, *(a_task(cron="0 3 * * *", owner_id=owner, name=f"report {i}") for i in range(1001)))
    refused = await api.post(
        "/api/v1/executions:bulk", json={"action": "cancel", "filter": {"taskName": "report"}}, headers=me
    )
    assert refused.status_code == 422 and "taskName" in refused.text and "1,000" in refused.text
    narrowed = await bulk(api, me, "cancel", filter={"taskName": "report 100"}, dryRun=True)
    assert narrowed["matched"] == 0  # "report 100" and "report 1000": neither has run yet


async def test_an_attempt_keeps_what_it_logged_and_where_it_failed_with_secrets_redacted(
    api: httpx.AsyncClient, auth: AuthService, isolation: Isolation
) -> None:
    me = auth.user_headers("debugger@example.com")
    secret_url = "http://ann:hunter2@127.0.0.1:1/hook?token=s3cr3t"  # refused by the egress guard: no traffic
    with running_worker(settings_for(isolation, WorkerSettings, **FAST), threads=2):
        slept = await submit(api, me, "Flaky", payload={"seconds": 0, "failTimes": 1}, maxRetries=1)
        called = await submit(api, me, "Leaky", kind="http", payload={"url": secret_url})
        done = await wait_execution(api, me, slept)
        dead = await wait_execution(api, me, called)
    first, second = done["attemptHistory"]
    assert first["logs"] == ["info: sleeping seconds=0.0", "warning: failing as asked attempt=1 fail_times=1"]
    assert "SleepFailed: failing attempt 1" in first["traceback"]
    assert "jobyard_worker/tasks/runners/sleep.py" in first["traceback"]  # where it failed
    assert (second["logs"], second["traceback"]) == (["info: sleeping seconds=0.0"], None)  # it completed

    [attempt] = dead["attemptHistory"]
    kept = "\n".join(attempt["logs"]) + attempt["traceback"]
    assert "calling method=GET url=http://[redacted]@127.0.0.1:1/hook?token=[redacted]" in kept
    assert "EgressRefused" in attempt["traceback"]
    assert "hunter2" not in kept and "s3cr3t" not in kept


async def test_a_running_attempt_shows_what_it_logged_so_far(
    api: httpx.AsyncClient, auth: AuthService, isolation: Isolation
) -> None:
    me = auth.user_headers("live-logs@example.com")
    with running_worker(settings_for(isolation, WorkerSettings, **FAST), threads=2):
        running = await submit(api, me, "Long", payload={"seconds": 30})
        seen: dict[str, Any] = {}

        async def logged() -> bool:  # the worker passes new lines on at its next cancel poll (50 ms here)
            seen.update(await wait_execution(api, me, running, {"processing"}))
            return bool(seen.get("liveLogs"))

        await eventually(logged, what="the running attempt's first line")
        assert seen["liveLogs"] == ["info: sleeping seconds=30.0"], seen
        assert seen["attemptHistory"] == []  # not stored yet: it goes with the attempt's end
        assert seen["payload"] == {"seconds": 30}  # one execution shows what it was given
        [row] = await listed(api, me, taskName="Long")
        assert row["id"] == running and row["payload"] is None  # a page of them does not (64 KB each)
        assert (await api.post(f"/api/v1/executions/{running}/cancel", headers=me)).status_code == 200
        ended = await wait_execution(api, me, running)
    assert ended["status"] == "cancelled" and ended["liveLogs"] is None
    assert ended["attemptHistory"][0]["logs"] == ["info: sleeping seconds=30.0"]
