"""Workflows against real kills: a worker SIGKILLed in the middle of a step, and one
SIGKILLed between storing a step's end and starting the step after it. Each step runs to
completion once (the killed attempt once more), and the step after it starts exactly once."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jobyard_libs.queue.liveness import WORKER_LOST
from pymongo import MongoClient

from tests.faults.conftest import fault_env
from tests.faults.workers import frozen_replacement, stop, until, worker
from tests.support.feed_server import FeedServer
from tests.support.stack import Stack, running_stack

CRASH_POINT = Path(__file__).parent / "crash_point"


@pytest.fixture
def public() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.stop()


def _steps(stack: Stack, api: httpx.Client, headers: dict[str, str], workflow_id: str) -> dict[str, Any]:
    shown = api.get(f"/api/v1/workflows/{workflow_id}", headers=headers).json()
    return {"status": shown["status"], **{step["id"]: step for step in shown["steps"]}}


def _executions_of(db: Any, workflow_id: str, step: str) -> list[dict[str, Any]]:
    from bson import ObjectId

    return list(db.executions.find({"workflowId": ObjectId(workflow_id), "stepId": step}))


def test_a_step_whose_worker_is_killed_runs_again_and_the_next_step_starts_once(
    mongodb_url: str, redis_url: str, tmp_path: Path, public: FeedServer
) -> None:
    env = fault_env(mongodb_url, redis_url)
    gate = threading.Event()
    held_url = public.serve("/held", b"ok", content_type="text/plain", hold=gate)
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_url)
    db = client[env["JOBYARD_MONGODB_DATABASE"]]
    with (
        running_stack(env, tmp_path, scheduler=True) as stack,
        httpx.Client(base_url=stack.api, timeout=30) as api,
    ):
        me = stack.auth.user_headers("killed-step@example.com")
        doomed = worker(stack, tmp_path / "doomed-worker.log")
        replacement = frozen_replacement(stack, tmp_path)
        try:
            steps = [
                {"id": "call", "kind": "http", "payload": {"url": held_url}, "maxRetries": 2},
                {"id": "after", "kind": "noop", "dependsOn": ["call"]},
                {"id": "last", "kind": "noop", "dependsOn": ["after"]},
            ]
            created = api.post("/api/v1/workflows", json={"name": "k", "steps": steps}, headers=me)
            assert created.status_code == 201, created.text
            workflow_id = created.json()["id"]
            until(
                lambda: _steps(stack, api, me, workflow_id)["call"]["status"] == "processing",
                "the call to run",
            )
            os.killpg(doomed.pid, signal.SIGKILL)  # mid-step: the call is held open
            doomed.wait(30)
            os.killpg(replacement.pid, signal.SIGCONT)
            gate.set()
            until(
                lambda: _steps(stack, api, me, workflow_id)["status"] == "completed",
                "the workflow to complete",
            )
        finally:
            stop(replacement)
    [call] = _executions_of(db, workflow_id, "call")
    assert call["attempts"] == 2 and call["attemptHistory"][0]["error"] == WORKER_LOST
    for step in ("after", "last"):
        [execution] = _executions_of(db, workflow_id, step)
        assert execution["status"] == "completed" and execution["attempts"] == 1
    client.close()


def test_a_kill_between_a_steps_end_and_the_next_steps_start_is_mended_once(
    mongodb_url: str, redis_url: str, tmp_path: Path
) -> None:
    """The worker stores the first step's completion and is SIGKILLed (its whole process
    group, as a pod is) before it tells the workflow: nothing will tell it again. The
    leader's reconciler finds the workflow quiet and starts the next step, once."""
    env = {**fault_env(mongodb_url, redis_url), "JOBYARD_SCHEDULER_WORKFLOW_RECONCILE_SECONDS": "1"}
    marker = tmp_path / "crashed"
    crash = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(CRASH_POINT), os.environ.get("PYTHONPATH")])),
        "JOBYARD_TEST_CRASH_AT": "workflow-advance",
        "JOBYARD_TEST_CRASH_MARKER": str(marker),
    }
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_url)
    db = client[env["JOBYARD_MONGODB_DATABASE"]]
    with (
        running_stack(env, tmp_path, scheduler=True) as stack,
        httpx.Client(base_url=stack.api, timeout=30) as api,
    ):
        me = stack.auth.user_headers("killed-between@example.com")
        doomed = worker(stack, tmp_path / "doomed-worker.log", env=crash)
        steps = [
            {"id": "first", "kind": "noop"},
            {"id": "left", "kind": "noop", "dependsOn": ["first"]},
            {"id": "right", "kind": "noop", "dependsOn": ["first"]},
            {"id": "join", "kind": "noop", "dependsOn": ["left", "right"]},
        ]
        created = api.post("/api/v1/workflows", json={"name": "k", "steps": steps}, headers=me)
        assert created.status_code == 201, created.text
        workflow_id = created.json()["id"]
        assert doomed.wait(60) == -signal.SIGKILL and marker.exists()  # it died at the crash point
        [first] = _executions_of(db, workflow_id, "first")
        assert first["status"] == "completed"  # stored before the kill
        replacement = worker(stack, tmp_path / "worker.log")
        try:
            until(
                lambda: _steps(stack, api, me, workflow_id)["status"] == "completed",
                "the workflow to complete",
            )
        finally:
            stop(replacement)
    for step in ("first", "left", "right", "join"):
        [execution] = _executions_of(db, workflow_id, step)  # exactly one each
        assert execution["status"] == "completed" and execution["attempts"] == 1
    client.close()
