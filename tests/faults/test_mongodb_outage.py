"""MongoDB killed and brought back under a running platform (auth, api, monitor, worker,
scheduler): fast, honest 503s while it is away; everything resumes by itself after."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from jobyard_devstack.net import wait_until

from tests.faults.conftest import fault_env
from tests.support.databases import MongoServer
from tests.support.stack import running_stack

GENEROUS = 120.0  # seconds: conditions, not schedules; a loaded machine only takes longer


def _until(condition: Callable[[], bool], what: str, within: float = GENEROUS) -> None:
    wait_until(condition, timeout=within, what=what, interval=0.1)


def test_mongodb_outage_answers_503_fast_and_everything_resumes(
    mongo: MongoServer, redis_url: str, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    env = fault_env(mongo.url, redis_url)
    with running_stack(env, tmp_path, monitor=True, worker=True, scheduler=True) as stack:
        me = stack.auth.user_headers("outage@example.com")
        api = httpx.Client(base_url=stack.api, headers=me, timeout=30)
        due = datetime.now(UTC) + timedelta(seconds=2)
        delayed = api.post(
            "/api/v1/tasks",
            json={
                "name": "due in the outage",
                "kind": "noop",
                "type": "delayed",
                "scheduledAt": due.isoformat(),
            },
        )
        assert delayed.status_code == 201, delayed.text
        # an attempt that runs across the outage: its cancel polls fail meanwhile, and it
        # runs on (it used to end as failed, or before that as cancelled, and run again)
        across = api.post(
            "/api/v1/tasks", json={"name": "across the outage", "kind": "sleep", "payload": {"seconds": 30}}
        )
        assert across.status_code == 201, across.text

        def running(task_id: str) -> bool:
            runs = api.get(f"/api/v1/tasks/{task_id}/executions").json()["items"]
            return bool(runs) and runs[0]["status"] == "processing"

        _until(lambda: running(across.json()["id"]), "the long attempt to be recorded running")

        mongo.kill()
        started = time.monotonic()
        refused = api.get("/api/v1/tasks")
        elapsed = time.monotonic() - started
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "dependency_unavailable"
        assert refused.json()["error"]["dependency"] == "mongodb"
        assert int(refused.headers["retry-after"]) > 0
        assert elapsed < 4, (
            f"a request waited {elapsed:.1f} s for an unreachable MongoDB"
        )  # it used to hang 5 s, then 500
        record_property("seconds_to_503", round(elapsed, 2))
        login = httpx.post(
            f"{stack.auth.url}/auth/v1/login", json={"email": "outage@example.com", "password": "x"}
        )
        assert login.status_code == 503
        ready = httpx.get(f"{stack.api}/readyz", timeout=10)
        assert ready.status_code == 503 and ready.json()["checks"]["mongodb"].startswith("error")
        assert httpx.get(f"{stack.api}/healthz").status_code == 200  # alive: no restart loop for a database
        assert httpx.get(f"{stack.auth.url}/.well-known/jwks.json").status_code == 200  # needs no database
        assert stack.monitor is not None
        assert httpx.get(f"{stack.monitor}/metrics").status_code == 200  # the last reading
        # the loops noticed, said so once, and are still there; the delayed task fell due meanwhile
        _until(lambda: "dependency_lost" in stack.log("scheduler"), "the scheduler to notice the outage")
        _until(lambda: datetime.now(UTC) > due + timedelta(seconds=1), "the delayed task to fall due")
        assert stack.log("scheduler").count("dependency_lost") == 1
        assert all(p.poll() is None for p in stack.processes.values())

        mongo.start()
        back = time.monotonic()
        _until(lambda: httpx.get(f"{stack.api}/readyz", timeout=10).status_code == 200, "the api to be ready")
        record_property("seconds_to_ready_after_return", round(time.monotonic() - back, 2))
        assert all(p.poll() is None for p in stack.processes.values())  # nobody was restarted

        def completed(task_id: str) -> bool:
            answer = api.get(f"/api/v1/tasks/{task_id}/executions")
            assert answer.status_code in (200, 503), answer.text
            runs = answer.json().get("items", [])
            return bool(runs) and runs[0]["status"] == "completed"

        _until(lambda: completed(delayed.json()["id"]), "the delayed task, fired after the outage")
        record_property("seconds_to_fire_missed_run_after_return", round(time.monotonic() - back, 2))
        fresh = api.post("/api/v1/tasks", json={"name": "after", "kind": "noop"})
        assert fresh.status_code == 201
        _until(lambda: completed(fresh.json()["id"]), "a task submitted after the outage")
        _until(lambda: completed(across.json()["id"]), "the attempt that ran across the outage")
        [run] = api.get(f"/api/v1/tasks/{across.json()['id']}/executions").json()["items"]
        assert run["attempts"] == 1, run  # one attempt, never failed or cancelled by the outage
        assert "cancel_not_checked" in stack.log("worker")
        assert "dependency_back" in stack.log("scheduler")
        api.close()
