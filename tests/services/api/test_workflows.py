"""Workflows through the API with a real worker: chains that pass results on, a diamond
that joins, conditions, a dead step and its replay, cancel, validation and owner scope."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from jobyard_worker.settings import WorkerSettings
from prometheus_client import REGISTRY

from tests.conftest import Isolation
from tests.support.auth_service import AuthService
from tests.support.feed_server import FeedServer
from tests.support.imports import running_worker, settings_for
from tests.support.scheduling import leader_firing
from tests.support.tasks import wait_execution
from tests.support.waiting import eventually

WORKER = {"task_retry_base_ms": 20, "task_retry_max_ms": 100, "task_cancel_poll_seconds": 0.05}
ENDED = {"completed", "failed", "cancelled"}


@pytest.fixture
def worker(isolation: Isolation) -> Iterator[None]:
    with running_worker(settings_for(isolation, WorkerSettings, **WORKER), threads=4):
        yield


async def _create(
    api: httpx.AsyncClient, headers: dict[str, str], steps: list[dict[str, Any]]
) -> dict[str, Any]:
    response = await api.post("/api/v1/workflows", json={"name": "wf", "steps": steps}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _until(
    api: httpx.AsyncClient, headers: dict[str, str], workflow_id: str, statuses: set[str] = ENDED
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def reached() -> dict[str, Any] | None:
        nonlocal seen
        seen = (await api.get(f"/api/v1/workflows/{workflow_id}", headers=headers)).json()
        return seen if seen.get("status") in statuses else None

    return await eventually(reached, within=30, what=lambda: f"workflow to reach {statuses}: {seen}")


def _counted(event: str) -> float:
    return REGISTRY.get_sample_value("jobyard_workflows_total", {"event": event}) or 0.0


def _waits() -> float:
    return REGISTRY.get_sample_value("jobyard_workflow_step_wait_seconds_count") or 0.0


def _steps(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["id"]: step for step in workflow["steps"]}


async def test_a_chain_passes_results_on_and_a_diamond_joins(
    api: httpx.AsyncClient, auth: AuthService, feeds: FeedServer, worker: None
) -> None:
    me = auth.user_headers("chain@example.com")
    second = feeds.serve("/second", b'{"items": 2}', content_type="application/json")
    first = feeds.serve("/first", second.encode(), content_type="text/plain")  # its body names the next URL
    created = await _create(
        api,
        me,
        [
            {"id": "fetch", "kind": "http", "payload": {"url": first}},
            {
                "id": "follow",
                "kind": "http",
                "payload": {"url": "${fetch.result.body}"},
                "dependsOn": ["fetch"],
            },
            {"id": "left", "kind": "noop", "dependsOn": ["follow"]},
            {"id": "right", "kind": "sleep", "payload": {"seconds": 0.05}, "dependsOn": ["follow"]},
            {"id": "join", "kind": "noop", "dependsOn": ["left", "right"]},
        ],
    )
    assert [s["id"] for s in created["steps"]] == ["fetch", "follow", "left", "right", "join"]
    assert _steps(created)["fetch"]["executionId"]  # the first step starts at once (the rest may have too)
    assert created["status"] == "running"
    done = await _until(api, me, created["id"])
    steps = _steps(done)
    assert done["status"] == "completed" and done["finishedAt"]
    assert {s["status"] for s in steps.values()} == {"completed"}
    follow = (await api.get(f"/api/v1/executions/{steps['follow']['executionId']}", headers=me)).json()
    assert follow["inputs"] == {"fetch": {"status": 200, "body": second, "truncated": False}}  # text: no json
    assert follow["payload"] == {"url": second}  # the reference, resolved
    listed = (await api.get("/api/v1/executions", headers=me)).json()["items"]
    assert {e["stepId"] for e in listed} == set(steps)
    assert all(
        e["inputs"] is None and e["payload"] is None for e in listed
    )  # one execution's page shows them
    assert follow["result"]["body"] == '{"items": 2}'
    join = (await api.get(f"/api/v1/executions/{steps['join']['executionId']}", headers=me)).json()
    assert set(join["inputs"]) == {"left", "right"} and join["workflowId"] == created["id"]
    assert join["stepId"] == "join"
    ids = [s["executionId"] for s in steps.values()]
    assert len(set(ids)) == 5  # one execution a step
    assert steps["join"]["startedAt"] >= max(steps["left"]["finishedAt"], steps["right"]["finishedAt"])


async def test_a_dead_step_skips_what_needs_it_runs_its_compensation_and_its_replay_resumes(
    api: httpx.AsyncClient, auth: AuthService, worker: None
) -> None:
    me = auth.user_headers("dead-step@example.com")
    created = await _create(
        api,
        me,
        [
            {"id": "flaky", "kind": "sleep", "payload": {"seconds": 0, "failTimes": 1}, "maxRetries": 0},
            {"id": "after", "kind": "noop", "dependsOn": ["flaky"]},
            {"id": "undo", "kind": "noop", "dependsOn": ["flaky"], "runIf": "anyFailed"},
            {"id": "always", "kind": "noop", "dependsOn": ["flaky"], "runIf": "allDone"},
        ],
    )
    failed = await _until(api, me, created["id"])
    steps = _steps(failed)
    assert failed["status"] == "failed"
    assert {name: s["status"] for name, s in steps.items()} == {
        "flaky": "dead",
        "after": "skipped",
        "undo": "completed",
        "always": "completed",
    }
    assert steps["after"]["executionId"] is None  # never ran

    async def its_dead_letter() -> dict[str, Any] | None:  # recorded just after the execution died
        dead = (await api.get("/api/v1/dead-letters", headers=me)).json()["items"]
        return next((d for d in dead if d["executionId"] == steps["flaky"]["executionId"]), None)

    letter = await eventually(its_dead_letter, within=10, what="the dead step's dead letter")
    replayed = await api.post(f"/api/v1/dead-letters/{letter['id']}/replay", headers=me)
    assert replayed.status_code == 202, replayed.text
    resumed = await _until(api, me, created["id"], {"completed"})  # its second attempt succeeds
    steps = _steps(resumed)
    assert {name: s["status"] for name, s in steps.items()} == {
        "flaky": "completed",
        "after": "completed",
        "undo": "completed",
        "always": "completed",
    }
    assert steps["flaky"]["executionId"] == letter["executionId"]  # the same execution, replayed


async def test_cancel_stops_the_running_step_and_nothing_after_it_starts(
    api: httpx.AsyncClient, auth: AuthService, worker: None
) -> None:
    me = auth.user_headers("cancel-wf@example.com")
    created = await _create(
        api,
        me,
        [
            {"id": "long", "kind": "sleep", "payload": {"seconds": 30}},
            {"id": "next", "kind": "noop", "dependsOn": ["long"]},
        ],
    )
    running = _steps(created)["long"]["executionId"]
    await wait_execution(api, me, running, {"processing"})
    response = await api.post(f"/api/v1/workflows/{created['id']}/cancel", headers=me)
    assert response.status_code == 200, response.text
    assert response.json()["cancelRequested"] is True
    ended = await _until(api, me, created["id"])
    assert ended["status"] == "cancelled"
    assert {name: s["status"] for name, s in _steps(ended).items()} == {
        "long": "cancelled",
        "next": "cancelled",
    }
    assert (await wait_execution(api, me, running))["status"] == "cancelled"
    again = await api.post(f"/api/v1/workflows/{created['id']}/cancel", headers=me)
    assert again.status_code == 409 and again.json()["error"]["code"] == "workflow_state"


@pytest.mark.parametrize(
    ("steps", "field"),
    [
        (
            [
                {"id": "a", "kind": "noop", "dependsOn": ["b"]},
                {"id": "b", "kind": "noop", "dependsOn": ["a"]},
            ],
            "steps[0].dependsOn",
        ),
        ([{"id": "a", "kind": "noop", "dependsOn": ["ghost"]}], "steps[0].dependsOn"),
        ([{"id": "a", "kind": "noop"}, {"id": "a", "kind": "noop"}], "steps[1].id"),
        ([{"id": "a", "kind": "nope"}], "steps[0].kind"),
        ([{"id": "a", "kind": "http", "payload": {"url": 5}}], "steps[0].payload.url"),
        (
            [{"id": "a", "kind": "noop"}, {"id": "b", "kind": "http", "payload": {"url": "${a.result.u}"}}],
            "steps[1].payload",
        ),
        ([{"id": f"s{i}", "kind": "noop"} for i in range(101)], "steps"),
    ],
)
async def test_a_wrong_workflow_is_refused_naming_the_field_and_nothing_is_stored(
    api: httpx.AsyncClient, auth: AuthService, steps: list[dict[str, Any]], field: str
) -> None:
    me = auth.user_headers("wrong-wf@example.com")
    response = await api.post("/api/v1/workflows", json={"name": "bad", "steps": steps}, headers=me)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert (await api.get("/api/v1/workflows", headers=me)).json()["items"] == []


async def test_a_workflow_is_its_owners_alone(
    api: httpx.AsyncClient, auth: AuthService, worker: None
) -> None:
    owner, other = auth.user_headers("wf-owner@example.com"), auth.user_headers("wf-other@example.com")
    created = await _create(api, owner, [{"id": "a", "kind": "noop"}])
    assert (await api.get(f"/api/v1/workflows/{created['id']}", headers=other)).status_code == 404
    assert (await api.post(f"/api/v1/workflows/{created['id']}/cancel", headers=other)).status_code == 404
    assert (await api.get("/api/v1/workflows", headers=other)).json()["items"] == []
    mine = (await api.get("/api/v1/workflows", headers=owner)).json()["items"]
    assert [w["id"] for w in mine] == [created["id"]]
    everyone = (await api.get("/api/v1/workflows", headers=auth.admin_headers())).json()["items"]
    assert created["id"] in [w["id"] for w in everyone]
    assert (await _until(api, owner, created["id"]))["status"] == "completed"


async def test_a_fan_out_runs_once_per_item_and_the_step_after_it_collects_them_in_order(
    api: httpx.AsyncClient, auth: AuthService, feeds: FeedServer, worker: None
) -> None:
    me = auth.user_headers("fan-out@example.com")
    started, completed, waits = _counted("started"), _counted("completed"), _waits()
    pages = [feeds.serve(f"/page/{n}", f"page {n}".encode(), content_type="text/plain") for n in range(5)]
    index = feeds.serve("/index", json.dumps({"pages": pages}).encode(), content_type="application/json")
    created = await _create(
        api,
        me,
        [
            {"id": "index", "kind": "http", "payload": {"url": index}},
            {
                "id": "each",
                "kind": "http",
                "payload": {"url": "${item}"},
                "dependsOn": ["index"],
                "forEach": "${index.result.json.pages}",
            },
            {"id": "gather", "kind": "noop", "dependsOn": ["each"]},
        ],
    )
    done = await _until(api, me, created["id"])
    steps = _steps(done)
    assert done["status"] == "completed"
    assert len(steps["each"]["executionIds"]) == 5 and steps["each"]["executionId"] is None
    assert [r["body"] for r in steps["each"]["result"]["items"]] == [
        f"page {n}" for n in range(5)
    ]  # in order
    gather = (await api.get(f"/api/v1/executions/{steps['gather']['executionId']}", headers=me)).json()
    assert [r["body"] for r in gather["inputs"]["each"]["items"]] == [f"page {n}" for n in range(5)]
    runs = [
        (await api.get(f"/api/v1/executions/{run}", headers=me)).json()
        for run in steps["each"]["executionIds"]
    ]
    assert [run["payload"]["url"] for run in runs] == pages
    assert [run["inputs"] for run in runs] == [{"item": page} for page in pages]  # not the whole list, each
    assert steps["gather"]["startedAt"] >= max(run["completedAt"] for run in runs)
    assert (_counted("started") - started, _counted("completed") - completed) == (1, 1)
    assert _waits() - waits == 3  # one wait a step started (a forEach step's runs start together)


async def test_a_fan_out_over_what_is_not_a_list_fails_that_step_naming_why(
    api: httpx.AsyncClient, auth: AuthService, feeds: FeedServer, worker: None
) -> None:
    me = auth.user_headers("fan-out-bad@example.com")
    index = feeds.serve("/not-a-list", b'{"pages": "no"}', content_type="application/json")
    created = await _create(
        api,
        me,
        [
            {"id": "index", "kind": "http", "payload": {"url": index}},
            {"id": "each", "kind": "noop", "dependsOn": ["index"], "forEach": "${index.result.json.pages}"},
        ],
    )
    done = await _until(api, me, created["id"])
    each = _steps(done)["each"]
    assert done["status"] == "failed"
    assert each["status"] == "failed" and "not a list" in each["error"] and each["executionIds"] == []


NOOPS = [{"id": "a", "kind": "noop"}, {"id": "b", "kind": "noop", "dependsOn": ["a"]}]


def _soon(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"type": "delayed"}, "scheduledAt"),
        ({"type": "delayed", "scheduledAt": "2020-01-01T00:00:00Z"}, "scheduledAt"),
        ({"type": "delayed", "scheduledAt": "2099-01-01T00:00:00"}, "scheduledAt"),  # no zone
        ({"type": "recurring"}, "cron"),
        ({"type": "recurring", "cron": "61 * * * *"}, "cron"),
        ({"type": "recurring", "cron": "* * * * * *"}, "cron"),  # every second: under a user's floor
        ({"type": "recurring", "cron": "0 3 * * *", "timezone": "Mars/Olympus"}, "timezone"),
    ],
)
async def test_a_wrong_schedule_is_refused_naming_its_field(
    api: httpx.AsyncClient, auth: AuthService, schedule: dict[str, Any], field: str
) -> None:
    me = auth.user_headers("wrong-schedule@example.com")
    body = {"name": "bad", "steps": NOOPS, **schedule}
    response = await api.post("/api/v1/workflows", json=body, headers=me)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert (await api.get("/api/v1/workflows", headers=me)).json()["items"] == []


async def test_a_delayed_workflow_waits_pending_and_cancelling_it_cancels_every_step(
    api: httpx.AsyncClient, auth: AuthService
) -> None:
    me = auth.user_headers("delayed-wf@example.com")
    at = _soon(hours=1)
    response = await api.post(
        "/api/v1/workflows",
        json={"name": "later", "steps": NOOPS, "type": "delayed", "scheduledAt": at},
        headers=me,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "pending" and created["type"] == "delayed"
    assert datetime.fromisoformat(created["nextRunAt"]) == datetime.fromisoformat(at)
    assert [(s["status"], s["executionId"]) for s in created["steps"]] == [("waiting", None)] * 2
    assert (await api.get("/api/v1/executions", headers=me)).json()["items"] == []  # nothing runs yet
    cancelled = (await api.post(f"/api/v1/workflows/{created['id']}/cancel", headers=me)).json()
    assert cancelled["status"] == "cancelled" and cancelled["nextRunAt"] is None and cancelled["finishedAt"]
    assert {s["status"] for s in cancelled["steps"]} == {"cancelled"}
    again = await api.post(f"/api/v1/workflows/{created['id']}/cancel", headers=me)
    assert again.status_code == 409


async def test_a_recurring_workflow_starts_a_run_of_its_own_at_each_moment_until_cancelled(
    api: httpx.AsyncClient, auth: AuthService, isolation: Isolation, worker: None
) -> None:
    me = auth.user_headers("recurring-wf@example.com")
    response = await api.post(
        "/api/v1/workflows",
        json={"name": "hourly", "steps": NOOPS, "type": "recurring", "cron": "0 * * * *"},
        headers=me,
    )
    assert response.status_code == 201, response.text
    recurring = response.json()
    assert recurring["status"] == "pending" and recurring["cron"] == "0 * * * *"
    due = datetime.fromisoformat(recurring["nextRunAt"])
    assert due.minute == 0 and due > datetime.now(UTC)
    async with leader_firing(isolation) as leader:
        assert (await leader.tick(due, fence=1)).workflows_started == 1
        runs_url = f"/api/v1/workflows?recurringId={recurring['id']}"
        [run] = (await api.get(runs_url, headers=me)).json()["items"]
        assert run["recurringId"] == recurring["id"] and datetime.fromisoformat(run["scheduledFor"]) == due
        done = await _until(api, me, run["id"])
        assert done["status"] == "completed" and {s["status"] for s in done["steps"]} == {"completed"}
        shown = (await api.get(f"/api/v1/workflows/{recurring['id']}", headers=me)).json()
        assert shown["status"] == "pending" and shown["runCount"] == 1
        assert datetime.fromisoformat(shown["nextRunAt"]) == due + timedelta(hours=1)
        stopped = (await api.post(f"/api/v1/workflows/{recurring['id']}/cancel", headers=me)).json()
        assert stopped["status"] == "cancelled"
        assert (await leader.tick(due + timedelta(hours=1), fence=1)).workflows_started == 0
    assert len((await api.get(runs_url, headers=me)).json()["items"]) == 1
    assert (await api.get(f"/api/v1/workflows/{run['id']}", headers=me)).json()["status"] == "completed"
