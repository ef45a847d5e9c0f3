"""The scheduler's leader SIGKILLed with a cron firing every second: the standby takes over
within the lease, no run fires twice, and none is late by more than the lease + 2 s."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from jobyard_devstack.net import free_port, wait_until
from pymongo import MongoClient

from tests.faults.conftest import FAST_RECOVERY, fault_env
from tests.support.factories import a_task
from tests.support.processes import bin_path

LEASE = timedelta(milliseconds=int(FAST_RECOVERY["JOBYARD_SCHEDULER_LEASE_MS"]))
GENEROUS = 120.0


def _until(condition: Callable[[], bool], what: str) -> None:
    wait_until(condition, timeout=GENEROUS, what=what, interval=0.05)


def _leads(metrics_url: str) -> bool:
    try:
        text = httpx.get(metrics_url, timeout=2).text
    except httpx.HTTPError:
        return False
    return "jobyard_scheduler_is_leader 1.0" in text


def test_the_standby_takes_over_a_killed_leader_without_firing_twice(
    mongodb_url: str, redis_url: str, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    env = {**os.environ, **fault_env(mongodb_url, redis_url)}
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_url, tz_aware=True)
    db = client[env["JOBYARD_MONGODB_DATABASE"]]
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    task = a_task(cron="* * * * * *", name="every second", next_run_at=start)
    task_id = db.tasks.insert_one(task.to_mongo()).inserted_id
    schedulers: dict[str, subprocess.Popen[bytes]] = {}
    ports = {name: free_port() for name in ("a", "b")}
    for name, port in ports.items():
        with (tmp_path / f"scheduler-{name}.log").open("wb") as out:
            schedulers[name] = subprocess.Popen(
                [bin_path("jobyard-scheduler"), "run"],
                env={**env, "JOBYARD_SCHEDULER_METRICS_PORT": str(port)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
    urls = {name: f"http://127.0.0.1:{port}/metrics" for name, port in ports.items()}
    try:
        _until(lambda: db.executions.count_documents({}) >= 5, "the first runs")
        _until(lambda: any(_leads(u) for u in urls.values()), "a leader")
        [leader] = [name for name, url in urls.items() if _leads(url)]
        [standby] = [name for name in urls if name != leader]
        schedulers[leader].send_signal(signal.SIGKILL)
        killed_at = datetime.now(UTC)
        _until(lambda: _leads(urls[standby]), "the standby to lead")
        _until(
            lambda: (
                db.executions.count_documents({"scheduledFor": {"$gt": killed_at + timedelta(seconds=5)}}) > 0
            ),
            "runs well after the kill",
        )
    finally:
        for process in schedulers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(30)
    runs = list(
        db.executions.find({"taskId": task_id}, {"scheduledFor": 1, "createdAt": 1}).sort("scheduledFor", 1)
    )
    due = [r["scheduledFor"] for r in runs]
    assert len(due) == len(set(due)), "a run fired twice"
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(due)), "a run went missing"
    handover = [
        r for r in runs if killed_at - timedelta(seconds=1) <= r["scheduledFor"] <= killed_at + LEASE * 2
    ]
    assert handover, "no run fell due during the handover"
    lateness = max(r["createdAt"] - r["scheduledFor"] for r in handover)
    record_property("handover_lateness_seconds", round(lateness.total_seconds(), 2))
    assert lateness <= LEASE + timedelta(seconds=2), lateness
    client.close()
