"""The task engine through the API, with a real Dramatiq worker on real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from jobyard_libs.tasks.repository import TaskRepository
from jobyard_worker.settings import WorkerSettings

from tests.conftest import Isolation
from tests.support.auth_service import AuthService
from tests.support.factories import a_task
from tests.support.imports import running_worker, settings_for
from tests.support.tasks import wait_execution

FAST_RETRIES = {"task_retry_base_ms": 20, "task_retry_max_ms": 100, "task_cancel_poll_seconds": 0.05}


@pytest.fixture
def worker(isolation: Isolation) -> Iterator[None]:
    with running_worker(settings_for(isolation, WorkerSettings, **FAST_RETRIES), threads=4):
        yield


def task(**fields: Any) -> dict[str, Any]:
    return {"name": "t", "kind": "noop", **fields}


async def _create(
    api: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any], **kw: Any
) -> dict[str, Any]:
    response = await api.post("/api/v1/tasks", json=body, headers=headers, **kw)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_one_time_task_runs_and_is_recorded(
    api: httpx.AsyncClient, auth: AuthService, worker: None
) -> None:
    me = auth.user_headers("runner@example.com")
    created = await _create(api, me, task(kind="sleep", payload={"seconds": 0.05}, priority=9))
    assert created["queue"] == "tasks.high"
    assert created["status"] == "done"
    assert created["runCount"] == 1 and created["lastRunAt"] is not None  # its one run starts now
    assert created["lastRun"]["executionId"] == created["executionId"]
    assert created["lastRun"]["status"] == "pending"
    done = await wait_execution(api, me, created["executionId"])
    assert done["status"] == "completed"
    assert done["attempts"] == 1
    assert done["result"] == {"slept": 0.05}
    assert done["durationMs"] >= 50
    assert done["startedAt"] is not None and done["startedAt"] <= done["completedAt"]
    assert done["attemptHistory"][0]["status"] == "completed"
    listed = (await api.get(f"/api/v1/tasks/{created['id']}/executions", headers=me)).json()
    assert [e["id"] for e in listed["items"]] == [created["executionId"]]


async def test_retries_then_dead_letter_then_replay_completes(
    api: httpx.AsyncClient, auth: AuthService, worker: None
) -> None:
    me = auth.user_headers("retry@example.com")
    created = await _create(api, me, task(kind="sleep", payload={"seconds": 0, "failTimes": 3}, maxRetries=2))
    dead = await wait_execution(api, me, created["executionId"])
    assert dead["status"] == "dead"
    assert (dead["attempts"], dead["attempt"], dead["attemptsAllowed"]) == (3, 3, 3)
    assert [a["status"] for a in dead["attemptHistory"]] == ["retrying", "retrying", "dead"]
    task_now = (await api.get(f"/api/v1/tasks/{created['id']}", headers=me)).json()
    assert (task_now["status"], task_now["lastRun"]["status"]) == ("done", "dead")  # done, and how it went
    assert "failing attempt 3" in dead["error"]

    letters = (await api.get("/api/v1/dead-letters", headers=me)).json()
    assert letters["total"] == 1
    letter = letters["items"][0]
    assert letter["executionId"] == created["executionId"]
    assert letter["attempts"] == 3

    replayed = await api.post(f"/api/v1/dead-letters/{letter['id']}/replay", headers=me)
    assert replayed.status_code == 202
    done = await wait_execution(api, me, created["executionId"])
    assert done["status"] == "completed"  # attempt 4: the failure was transient
    assert done["attempts"] == 4
    assert (done["attempt"], done["attemptsAllowed"], done["replays"]) == (
        1,
        3,
        1,
    )  # attempt 1 of 3 (replay 1)
    listed = (await api.get("/api/v1/tasks", headers=me)).json()["items"]
    assert [t["lastRun"]["status"] for t in listed if t["id"] == created["id"]] == ["completed"]
    assert (await api.get("/api/v1/dead-letters", headers=me)).json()["total"] == 0
    again = await api.post(f"/api/v1/dead-letters/{letter['id']}/replay", headers=me)
    assert again.status_code == 404


async def test_timeout_fails_the_attempt(api: httpx.AsyncClient, auth: AuthService, worker: None) -> None:
    me = auth.user_headers("slow@example.com")
    created = await _create(api, me, task(kind="sleep", payload={"seconds": 5}, timeoutMs=200, maxRetries=0))
    dead = await wait_execution(api, me, created["executionId"])
    assert dead["status"] == "dead"
    assert "timed out after 200 ms" in dead["error"]
    assert dead["durationMs"] < 3000


async def test_cancel_a_running_execution(api: httpx.AsyncClient, auth: AuthService, worker: None) -> None:
    me = auth.user_headers("canceller@example.com")
    created = await _create(api, me, task(kind="sleep", payload={"seconds": 30}))
    await wait_execution(api, me, created["executionId"], {"processing"})
    response = await api.post(f"/api/v1/executions/{created['executionId']}/cancel", headers=me)
    assert response.status_code == 200
    assert response.json()["cancelRequested"] is True
    done = await wait_execution(api, me, created["executionId"], within=5)
    assert done["status"] == "cancelled"


async def test_cancel_a_queued_execution(
    api: httpx.AsyncClient, auth: AuthService, isolation: Isolation
) -> None:
    me = auth.user_headers("queued@example.com")  # no worker: it stays queued
    created = await _create(api, me, task())
    response = await api.post(f"/api/v1/executions/{created['executionId']}/cancel", headers=me)
    assert response.json()["status"] == "cancelled"
    # even a worker that comes along later must not run it: once a task queued after it has
    # run and its queue is drained, the cancelled one's message was delivered and did nothing
    with running_worker(settings_for(isolation, WorkerSettings)) as worker:
        follower = await _create(api, me, task())
        assert (await wait_execution(api, me, follower["executionId"]))["status"] == "completed"
        worker.broker.join(created["queue"], timeout=30_000)
    final = (await api.get(f"/api/v1/executions/{created['executionId']}", headers=me)).json()
    assert final["status"] == "cancelled"
    assert final["attempts"] == 0


async def test_pause_resume_and_cancel_a_recurring_task(api: httpx.AsyncClient, auth: AuthService) -> None:
    me = auth.user_headers("cron@example.com")
    created = await _create(api, me, task(type="recurring", cron="*/5 * * * *", timezone="Europe/Berlin"))
    assert created["status"] == "active"
    assert created["actions"] == ["run", "pause", "cancel"]  # what the console offers
    next_run = datetime.fromisoformat(created["nextRunAt"])
    assert next_run > datetime.now(UTC)
    assert next_run.minute % 5 == 0
    paused = (await api.post(f"/api/v1/tasks/{created['id']}/pause", headers=me)).json()
    assert (paused["status"], paused["actions"]) == ("paused", ["run", "resume", "cancel"])
    assert (await api.post(f"/api/v1/tasks/{created['id']}/pause", headers=me)).status_code == 409
    resumed = (await api.post(f"/api/v1/tasks/{created['id']}/resume", headers=me)).json()
    assert resumed["status"] == "active"
    assert resumed["nextRunAt"] is not None
    cancelled = (await api.post(f"/api/v1/tasks/{created['id']}/cancel", headers=me)).json()
    assert cancelled["status"] == "cancelled"
    assert (cancelled["nextRunAt"], cancelled["actions"]) == (None, [])
    assert (await api.post(f"/api/v1/tasks/{created['id']}/run", headers=me)).status_code == 409


async def test_run_now_and_delete(api: httpx.AsyncClient, auth: AuthService, worker: None) -> None:
    me = auth.user_headers("manual@example.com")
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    created = await _create(api, me, task(type="delayed", scheduledAt=later))
    assert created["nextRunAt"] == created["scheduledAt"]
    started = await api.post(f"/api/v1/tasks/{created['id']}/run", headers=me)
    assert started.status_code == 202
    done = await wait_execution(api, me, started.json()["executionId"])
    assert done["trigger"] == "manual"
    assert done["status"] == "completed"
    assert (await api.delete(f"/api/v1/tasks/{created['id']}", headers=me)).status_code == 204
    assert (await api.get(f"/api/v1/tasks/{created['id']}", headers=me)).status_code == 404


async def test_idempotency_key(api: httpx.AsyncClient, auth: AuthService, worker: None) -> None:
    me = auth.user_headers("idem@example.com")
    keyed = {**me, "Idempotency-Key": "k-1"}
    first = await _create(api, keyed, task(name="once"))
    await wait_execution(api, me, first["executionId"])
    again = await _create(api, keyed, task(name="once"))
    assert again["id"] == first["id"]
    assert again["executionId"] == first["executionId"]
    # a replay shows the task as it is now, not as it was created
    assert (first["lastRun"]["status"], again["lastRun"]["status"]) == ("pending", "completed")
    other = await api.post(
        "/api/v1/tasks", json=task(name="different"), headers={**me, "Idempotency-Key": "k-1"}
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    someone_else = await _create(
        api, {**auth.user_headers("idem2@example.com"), "Idempotency-Key": "k-1"}, task(name="once")
    )
    assert someone_else["id"] != first["id"]  # keys are per user


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (task(kind="teleport"), "kind"),
        (task(type="recurring", cron="61 * * * *"), "cron"),
        (task(type="recurring", cron="* * *"), "cron"),
        (task(type="recurring"), "cron"),
        (task(type="recurring", cron="* * * * *", timezone="Mars/Olympus"), "timezone"),
        (task(type="delayed", scheduledAt="2020-01-01T00:00:00Z"), "scheduledAt"),
        (task(type="delayed"), "scheduledAt"),
        (task(kind="sleep", payload={"seconds": -1}), "payload.seconds"),
        (task(kind="sleep", payload={"minutes": 1}), "payload.minutes"),
        (task(kind="noop", payload={"blob": "x" * 70_000}), "payload"),
        (task(priority=11), "priority"),
        (task(maxRetries=-1), "maxRetries"),
    ],
)
async def test_bad_submissions_name_the_field(
    api: httpx.AsyncClient, auth: AuthService, body: dict[str, Any], field: str
) -> None:
    me = auth.user_headers("picky@example.com")
    response = await api.post("/api/v1/tasks", json=body, headers=me)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert (await api.get("/api/v1/tasks", headers=me)).json()["total"] == 0  # nothing stored


async def test_another_users_task_is_404(api: httpx.AsyncClient, auth: AuthService) -> None:
    mine = await _create(api, auth.user_headers("owner@example.com"), task())
    stranger = auth.user_headers("stranger@example.com")
    assert (await api.get(f"/api/v1/tasks/{mine['id']}", headers=stranger)).status_code == 404
    assert (await api.get(f"/api/v1/executions/{mine['executionId']}", headers=stranger)).status_code == 404
    assert (
        await api.post(f"/api/v1/executions/{mine['executionId']}/cancel", headers=stranger)
    ).status_code == 404
    assert (await api.get(f"/api/v1/tasks/{mine['id']}", headers=auth.admin_headers())).status_code == 200
    listed = (await api.get("/api/v1/tasks", headers=stranger)).json()
    assert listed["total"] == 0


async def test_batch(api: httpx.AsyncClient, auth: AuthService, worker: None) -> None:
    me = auth.user_headers("batch@example.com")
    response = await api.post(
        "/api/v1/tasks:batch", json={"tasks": [task(name=f"n{i}") for i in range(50)]}, headers=me
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["executionIds"]) == 50
    assert body["queued"] == 50
    for execution_id in body["executionIds"][::10]:
        assert (await wait_execution(api, me, execution_id))["status"] == "completed"
    listed = (await api.get("/api/v1/tasks", params={"limit": 100}, headers=me)).json()["items"]
    assert len(listed) == 50
    assert all(t["runCount"] == 1 and t["lastRunAt"] is not None for t in listed)  # counted as they ran
    bad = await api.post("/api/v1/tasks:batch", json={"tasks": [task(), task(kind="nope")]}, headers=me)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "tasks.1.kind"


async def test_submission_rate_limit_per_user(api_settings: Any, auth: AuthService) -> None:
    from jobyard_api.app import create_app

    from tests.support.asgi import client_for

    limited = api_settings.model_copy(update={"task_submit_rate_per_minute": 3})
    me, other = auth.user_headers("eager@example.com"), auth.user_headers("patient@example.com")
    async with client_for(create_app(limited)) as api:
        for _ in range(3):
            assert (await api.post("/api/v1/tasks", json=task(), headers=me)).status_code == 201
        refused = await api.post("/api/v1/tasks", json=task(), headers=me)
        assert refused.status_code == 429
        assert 0 < int(refused.headers["retry-after"]) <= 60
        assert refused.json()["error"]["code"] == "rate_limited"
        batch = await api.post("/api/v1/tasks:batch", json={"tasks": [task(), task()]}, headers=other)
        assert batch.status_code == 201  # limits are per user; a batch counts each task
        over = await api.post("/api/v1/tasks:batch", json={"tasks": [task(), task()]}, headers=other)
        assert over.status_code == 429
        assert (await api.get("/api/v1/tasks", headers=other)).json()[
            "total"
        ] == 2  # the refused batch stored nothing


async def test_patch_changes_only_what_it_names(api: httpx.AsyncClient, auth: AuthService) -> None:
    me = auth.user_headers("patcher@example.com")
    created = await _create(api, me, task(type="recurring", cron="0 3 * * *", timezone="UTC"))
    renamed = await api.patch(
        f"/api/v1/tasks/{created['id']}", json={"name": "nightly", "priority": 9}, headers=me
    )
    assert renamed.status_code == 200
    assert renamed.json()["queue"] == "tasks.high"
    assert renamed.json()["nextRunAt"] == created["nextRunAt"]
    moved = (
        await api.patch(f"/api/v1/tasks/{created['id']}", json={"cron": "30 4 * * *"}, headers=me)
    ).json()
    assert datetime.fromisoformat(moved["nextRunAt"]).hour == 4
    bad = await api.patch(f"/api/v1/tasks/{created['id']}", json={"cron": "nope"}, headers=me)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "cron"
    kept = (await api.get(f"/api/v1/tasks/{created['id']}", headers=me)).json()
    assert kept["cron"] == "30 4 * * *"  # the refused change stored nothing


async def test_cron_preview_gives_utc_runs_and_words_and_names_bad_fields(
    api: httpx.AsyncClient, auth: AuthService
) -> None:
    me = auth.user_headers("previewer@example.com")
    query: dict[str, str | int] = {
        "cron": "30 2 * * *",
        "timezone": "Europe/Berlin",
        "after": "2026-10-24T12:00:00Z",
        "count": 3,
    }
    answer = await api.get("/api/v1/cron/preview", params=query, headers=me)
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    # once on the day the clocks go back (02:30 CEST), then 02:30 CET
    assert [datetime.fromisoformat(r) for r in preview["runs"]] == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 26, 1, 30, tzinfo=UTC),
        datetime(2026, 10, 27, 1, 30, tzinfo=UTC),
    ]
    assert "02:30" in preview["description"]
    for field, bad in [("cron", {"cron": "R * * * *"}), ("timezone", {"timezone": "Mars/Olympus"})]:
        refused = await api.get("/api/v1/cron/preview", params={**query, **bad}, headers=me)
        assert refused.status_code == 422 and refused.json()["error"]["field"] == field
    # a task cannot be created with it either
    body = task(type="recurring", cron="0 0 L * *")
    refused = await api.post("/api/v1/tasks", json=body, headers=me)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "cron"
    assert (await api.get("/api/v1/cron/preview", params=query)).status_code == 401


async def test_tasks_by_part_of_their_name_and_by_owner(api: httpx.AsyncClient, auth: AuthService) -> None:
    me, other, admin = (
        auth.user_headers("names@example.com"),
        auth.user_headers("else@example.com"),
        auth.admin_headers(),
    )
    for name in ("Nightly report", "nightly cleanup", "Weekly digest (nightly.*)"):
        await _create(api, me, task(name=name, type="delayed", scheduledAt="2099-01-01T00:00:00Z"))
    await _create(api, other, task(name="Nightly other", type="delayed", scheduledAt="2099-01-01T00:00:00Z"))

    def names(answer: httpx.Response) -> set[str]:
        assert answer.status_code == 200, answer.text
        return {t["name"] for t in answer.json()["items"]}

    mine = names(await api.get("/api/v1/tasks", params={"name": "NIGHTLY"}, headers=me))
    assert mine == {"Nightly report", "nightly cleanup", "Weekly digest (nightly.*)"}
    assert names(await api.get("/api/v1/tasks", params={"name": "nightly.*"}, headers=me)) == {
        "Weekly digest (nightly.*)"  # the text as it is, not a pattern
    }
    refused = await api.get("/api/v1/tasks", params={"ownerId": auth.subject(other)}, headers=me)
    assert refused.status_code == 422 and "ownerId" in refused.text
    everyone = names(await api.get("/api/v1/tasks", params={"name": "nightly"}, headers=admin))
    assert {"Nightly report", "Nightly other"} <= everyone
    one = await api.get(
        "/api/v1/tasks", params={"name": "nightly", "ownerId": auth.subject(other)}, headers=admin
    )
    assert names(one) == {"Nightly other"}
    [report] = (await api.get("/api/v1/tasks", params={"name": "report"}, headers=me)).json()["items"]
    renamed = await api.patch(f"/api/v1/tasks/{report['id']}", json={"name": "Daily SUMMARY"}, headers=me)
    assert renamed.status_code == 200, renamed.text
    assert names(await api.get("/api/v1/tasks", params={"name": "summary"}, headers=me)) == {"Daily SUMMARY"}
    assert names(await api.get("/api/v1/tasks", params={"name": "report"}, headers=me)) == set()


async def test_tasks_stored_before_name_keys_are_found_after_the_migration(
    api: httpx.AsyncClient, auth: AuthService, db: Any
) -> None:
    """A task written by a version without ``nameKey`` is found by name once
    ``jobyard-scheduler migrate`` keyed it (and the migration leaves keyed tasks alone)."""
    me = auth.user_headers("old-names@example.com")
    await _create(api, me, task(name="Keyed already", type="delayed", scheduledAt="2099-01-01T00:00:00Z"))
    olds = [
        a_task(name=name, owner_id=auth.subject(me)).to_mongo() for name in ("Straße report", "Old DIGEST")
    ]
    for old in olds:
        del old["nameKey"]
    await db.tasks.insert_many(olds)

    async def found(text: str) -> list[str]:
        answer = await api.get("/api/v1/tasks", params={"name": text}, headers=me)
        assert answer.status_code == 200, answer.text
        return [t["name"] for t in answer.json()["items"]]

    assert await found("STRASSE") == []
    assert await TaskRepository(db).key_names(batch=1) == 2  # one bulk write a task here
    assert await found("STRASSE") == ["Straße report"]
    assert await found("digest") == ["Old DIGEST"]
    assert await TaskRepository(db).key_names() == 0


async def test_tasks_are_counted_by_state_within_the_callers_scope(
    api: httpx.AsyncClient, auth: AuthService
) -> None:
    me, other, admin = (
        auth.user_headers("counts@example.com"),
        auth.user_headers("counts-other@example.com"),
        auth.admin_headers(),
    )
    later = {"type": "delayed", "scheduledAt": "2099-01-01T00:00:00Z"}
    ids = [(await _create(api, me, task(name=f"t{i}", **later)))["id"] for i in range(3)]
    await _create(api, other, task(name="theirs", **later))
    assert (await api.post(f"/api/v1/tasks/{ids[0]}/pause", headers=me)).status_code == 200
    assert (await api.post(f"/api/v1/tasks/{ids[1]}/cancel", headers=me)).status_code == 200
    assert (await api.delete(f"/api/v1/tasks/{ids[2]}", headers=me)).status_code == 204

    def counted(answer: httpx.Response) -> dict[str, int]:
        assert answer.status_code == 200, answer.text
        return dict(answer.json()["byStatus"])

    mine = counted(await api.get("/api/v1/tasks/counts", headers=me))
    assert mine == {"active": 0, "paused": 1, "done": 0, "cancelled": 1}  # the deleted one is gone
    theirs = counted(
        await api.get("/api/v1/tasks/counts", params={"ownerId": auth.subject(other)}, headers=admin)
    )
    assert theirs == {"active": 1, "paused": 0, "done": 0, "cancelled": 0}
    refused = await api.get("/api/v1/tasks/counts", params={"ownerId": auth.subject(other)}, headers=me)
    assert refused.status_code == 422 and "ownerId" in refused.text
