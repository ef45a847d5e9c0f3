"""Redis through Sentinel: the primary SIGKILLed while users submit tasks and an import runs.
The platform follows the promoted replica on its own; every accepted task runs exactly
once (what the replica had not received yet is sent again); the import's counts are exact."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bson import ObjectId
from jobyard_devstack.net import wait_until
from pymongo import MongoClient

from tests.faults.conftest import fault_env
from tests.faults.test_redis_outage import Traffic
from tests.support.feed_factory import chunks
from tests.support.feed_server import FeedServer
from tests.support.sentinel import MASTER, SentinelCluster
from tests.support.stack import running_stack

GENEROUS = 180.0
ITEMS = 400


def _until(condition: Callable[[], bool], what: str) -> None:
    wait_until(condition, timeout=GENEROUS, what=what, interval=0.05)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    redis_ha = SentinelCluster(tmp_path / "redis-ha").start()
    yield redis_ha
    redis_ha.stop()


@pytest.fixture
def big_feed() -> Iterator[str]:
    server = FeedServer()
    server.serve("/big.xml", b"".join(chunks(ITEMS)))
    yield f"{server.base_url}/big.xml"
    server.stop()


def test_a_redis_failover_loses_no_task_and_no_posting(
    cluster: SentinelCluster,
    mongodb_url: str,
    tmp_path: Path,
    big_feed: str,
    record_property: Callable[[str, object], None],
) -> None:
    env = {
        **fault_env(mongodb_url, "redis://127.0.0.1:1/0"),  # never used: Sentinel says where Redis is
        "JOBYARD_REDIS_SENTINELS": cluster.sentinels,
        "JOBYARD_REDIS_SENTINEL_MASTER": MASTER,
        "JOBYARD_IMPORT_BATCH_SIZE": "2",
        "JOBYARD_IMPORT_RESUME_AFTER_SECONDS": "2",
        "JOBYARD_FEEDS": f'["{big_feed}"]',
    }
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_url)
    db = client[env["JOBYARD_MONGODB_DATABASE"]]
    with running_stack(env, tmp_path, worker=True, scheduler=True) as stack:
        email = "failover@example.com"
        headers = stack.auth.user_headers(email)
        admin = stack.auth.admin_headers()
        with httpx.Client(base_url=stack.api, timeout=30) as api:
            [log_id] = api.post("/api/v1/imports", headers=admin).json()["importLogIds"]
        traffic = Traffic(stack.api, stack.auth.url, headers, email)
        traffic.thread.start()
        try:
            _until(lambda: len(traffic.accepted) >= 10, "submissions before the failover")
            _until(
                lambda: (
                    (db.import_logs.find_one({"_id": ObjectId(log_id)}) or {}).get("batchesApplied", 0) >= 5
                ),
                "batches",
            )
            old = cluster.primary_port
            cluster.kill_primary()
            killed_at = time.monotonic()
            _until(lambda: cluster.master_port() not in (None, old), "Sentinel to promote the replica")
            failover_seconds = time.monotonic() - killed_at
            before = len(traffic.accepted)
            _until(lambda: len(traffic.accepted) >= before + 10, "submissions after the failover")
        finally:
            traffic.stop.set()
            traffic.thread.join(60)
        with httpx.Client(base_url=stack.api, timeout=30, headers=headers) as api:
            probe = api.post("/api/v1/tasks", json={"name": "probe", "kind": "noop"}).json()
            probe_sent = time.monotonic()
            _until(
                lambda: api.get(f"/api/v1/executions/{probe['executionId']}").json()["status"] == "completed",
                "a task after the failover to complete",
            )
            probe_seconds = time.monotonic() - probe_sent
        assert traffic.statuses.keys() <= {201}, traffic.statuses
        assert traffic.login_statuses.keys() <= {200, 503}, traffic.login_statuses

        accepted = [*traffic.accepted, probe["id"]]
        _until(lambda: db.executions.count_documents({"status": "completed"}) >= len(accepted), "every task")
        per_task = Counter(str(e["taskId"]) for e in db.executions.find({}, {"taskId": 1}))
        assert set(per_task) == set(accepted) and set(per_task.values()) == {1}, "a task lost or run twice"
        _until(
            lambda: (db.import_logs.find_one({"_id": ObjectId(log_id)}) or {}).get("status") == "completed",
            "the import to complete",
        )
        log = db.import_logs.find_one({"_id": ObjectId(log_id)})
        assert log is not None
        assert (log["newJobs"], log["totalImported"], log["failedCount"]) == (ITEMS, ITEMS, 0)
        assert log["batchesApplied"] == log["batchesTotal"] == ITEMS // 2
        assert db.jobs.count_documents({}) == ITEMS
        assert all(p.poll() is None for p in stack.processes.values())  # nobody restarted, nobody repointed
    client.close()
    record_property("sentinel_failover_seconds", round(failover_seconds, 2))
    record_property("task_after_failover_seconds", round(probe_seconds, 2))
    assert failover_seconds < 30, failover_seconds  # Sentinel's own time: down-after 1 s + election
    assert probe_seconds < 15, probe_seconds  # the platform works on the new primary at once
