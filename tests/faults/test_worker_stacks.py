"""``kill -USR1`` on a real worker's process group: each worker process logs where its
threads and its coroutines wait, down to the line a running attempt waits at, and goes on
working; Dramatiq's parent and the metrics fork, which the signal reaches too, live on."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import httpx
from jobyard_devstack.net import free_port
from pymongo import MongoClient

from tests.faults.conftest import fault_env
from tests.faults.workers import stop, until, worker
from tests.support.processes import answers
from tests.support.stack import running_stack


def _lines(log: Path, event: str) -> list[dict[str, Any]]:
    found = []
    for line in log.read_text().splitlines():
        if event in line and line.startswith("{"):
            found.append(json.loads(line))
    return [entry for entry in found if entry.get("event") == event]


def test_sigusr1_logs_where_a_running_attempt_waits_and_the_worker_goes_on(
    mongodb_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = {**fault_env(mongodb_url, redis_url), "JOBYARD_LOG_FORMAT": "json"}
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_url)
    db = client[env["JOBYARD_MONGODB_DATABASE"]]
    log = tmp_path / "worker.log"
    try:
        with running_stack(env, tmp_path) as stack:
            me = stack.auth.user_headers("stacks@example.com")
            port = free_port()
            process = worker(stack, log, metrics_port=port)
            try:
                until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), "the worker")
                with httpx.Client(base_url=stack.api, timeout=30) as api:
                    long = {"name": "long", "kind": "sleep", "payload": {"seconds": 600}}
                    task = api.post("/api/v1/tasks", json=long, headers=me).raise_for_status().json()
                    running = {"status": "processing"}
                    until(lambda: db.executions.count_documents(running) == 1, "a running attempt")
                    os.killpg(process.pid, signal.SIGUSR1)
                    until(lambda: _lines(log, "worker_stacks_done") != [], "the dump")
                    dumped = _lines(log, "worker_stacks")
                    chains = [entry["awaits"] for entry in dumped if "awaits" in entry]
                    # the actor, down through the executor, to the runner's own line and its future
                    [chain] = [
                        chain
                        for chain in chains
                        if any(
                            "tasks/actors.py:" in frame and frame.endswith(" in execute") for frame in chain
                        )
                    ]
                    assert any("tasks/service.py" in frame and " in _run" in frame for frame in chain), chain
                    assert chain[-1].startswith("waits on <"), chain
                    threads = [entry["thread"] for entry in dumped if "thread" in entry]
                    assert "MainThread" in threads and len(threads) >= 6, threads  # + the loop, 4 workers
                    # everyone lives on, and the worker still works: it stops the attempt it runs
                    assert process.poll() is None and answers(f"http://127.0.0.1:{port}/healthz")
                    api.post(f"/api/v1/tasks/{task['id']}/cancel", headers=me).raise_for_status()
                    until(lambda: db.executions.count_documents({"status": "cancelled"}) == 1, "the cancel")
            finally:
                stop(process)
    finally:
        client.close()
