"""A worker SIGKILLed mid-tasks and mid-import: its messages come back within the heartbeat
timeout plus the sweep, every task runs to completion once, the import's counts are exact."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jobyard_devstack.net import free_port, wait_until
from pymongo import MongoClient
from redis import Redis

from tests.faults.conftest import FAST_RECOVERY, fault_env
from tests.support.feed_factory import chunks
from tests.support.feed_server import FeedServer
from tests.support.processes import answers, bin_path
from tests.support.stack import Stack, running_stack

GENEROUS = 120.0
HEARTBEAT_S = int(FAST_RECOVERY["JOBYARD_QUEUE_HEARTBEAT_TIMEOUT_MS"]) / 1000
SWEEP_S = float(FAST_RECOVERY["JOBYARD_QUEUE_SWEEP_SECONDS"])
ITEMS = 400


def _until(condition: Callable[[], bool], what: str) -> None:
    wait_until(condition, timeout=GENEROUS, what=what, interval=0.05)


@pytest.fixture
def public() -> Iterator[FeedServer]:
    """The internet: a big feed at /big.xml, and whatever the test adds."""
    server = FeedServer()
    server.serve("/big.xml", b"".join(chunks(ITEMS)))
    yield server
    server.stop()


def _worker(stack: Stack, log: Path, metrics_port: int = 0) -> subprocess.Popen[bytes]:
    """A worker in a process group of its own: a signal to the group reaches every process it forked."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [bin_path("jobyard-worker"), "--processes", "1", "--threads", "4"],
            env={**os.environ, **stack.env, "JOBYARD_WORKER_METRICS_PORT": str(metrics_port)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _ack_sets(redis: Redis, namespace: str) -> list[bytes]:
    """Every worker's sets of messages fetched and not acknowledged."""
    return [key for key in redis.scan_iter(match=f"{namespace}:__acks__.*") if redis.scard(key)]


def _oid(text: str) -> Any:
    from bson import ObjectId

    return ObjectId(text)


def test_a_killed_workers_messages_come_back_in_time_and_nothing_is_lost(
    mongodb_url: str,
    redis_url: str,
    tmp_path: Path,
    public: FeedServer,
    record_property: Callable[[str, object], None],
) -> None:
    env = {
        **fault_env(mongodb_url, redis_url),
        "JOBYARD_IMPORT_BATCH_SIZE": "2",
        "JOBYARD_FEEDS": f'["{public.base_url}/big.xml"]',
    }
    namespace = env["JOBYARD_REDIS_KEY_PREFIX"] + "dramatiq"
    redis = Redis.from_url(redis_url)
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_url)
    db = client[env["JOBYARD_MONGODB_DATABASE"]]
    gate = threading.Event()
    held_url = public.serve("/held", b"ok", content_type="text/plain", hold=gate)
    with running_stack(env, tmp_path, scheduler=True) as stack:
        me, admin = stack.auth.user_headers("killed@example.com"), stack.auth.admin_headers()
        doomed = _worker(stack, tmp_path / "doomed-worker.log")
        with httpx.Client(base_url=stack.api, timeout=30) as api:
            [log_id] = api.post("/api/v1/imports", headers=admin).json()["importLogIds"]
            _until(
                lambda: (db.import_logs.find_one({"_id": _oid(log_id)}) or {}).get("batchesApplied", 0) >= 10,
                "the import to be under way",
            )
            # its replacement, up before the kill (as a second replica would be) but frozen until
            # the kill, so that the tasks go to the doomed worker alone, however slow the start
            port = free_port()
            replacement = _worker(stack, tmp_path / "worker.log", metrics_port=port)
            _until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), "the replacement worker")
            os.killpg(replacement.pid, signal.SIGSTOP)
            # calls that last until the test lets them answer: still running when the kill comes
            held = {"kind": "http", "payload": {"url": held_url}, "timeoutMs": 13000, "maxRetries": 2}
            tasks = [
                api.post("/api/v1/tasks", json={"name": f"s{i}", **held}, headers=me).json()["id"]
                for i in range(4)
            ]
            _until(
                lambda: db.executions.count_documents({"status": "processing"}) == 4,
                "the tasks to be running",
            )
            # the doomed worker's sets of the tasks' queue (the replacement froze before any was sent)
            dead_sets = [key for key in _ack_sets(redis, namespace) if key.endswith(b".tasks.default")]
            assert sum(int(redis.scard(key)) for key in dead_sets) == 4
            try:
                os.killpg(doomed.pid, signal.SIGKILL)  # the worker and every process it forked
                doomed.wait(30)
                killed_at = time.monotonic()
                os.killpg(replacement.pid, signal.SIGCONT)
                # the dead worker's ack sets are gone: its messages are back on their queues
                _until(
                    lambda: not any(redis.exists(key) for key in dead_sets),
                    "the dead worker's messages to return",
                )
                requeued_after = time.monotonic() - killed_at
                gate.set()  # the retries' calls answer at once
                _until(
                    lambda: db.executions.count_documents({"status": "completed"}) == 4,
                    "the tasks to complete",
                )
                _until(
                    lambda: (
                        (db.import_logs.find_one({"_id": _oid(log_id)}) or {}).get("status") == "completed"
                    ),
                    "the import",
                )
            finally:
                os.killpg(replacement.pid, signal.SIGCONT)
                replacement.terminate()
                replacement.wait(30)
        per_task = Counter(str(e["taskId"]) for e in db.executions.find())
        assert set(per_task) == set(tasks) and set(per_task.values()) == {1}
        for execution in db.executions.find():
            assert execution["attempts"] == 2  # the killed attempt counted, and was retried
            assert execution["attemptHistory"][0]["error"] == "the worker running this attempt stopped"
        log = db.import_logs.find_one({"_id": _oid(log_id)})
        assert log is not None
        assert log["newJobs"] == ITEMS and log["totalImported"] == ITEMS and log["failedCount"] == 0
        assert log["batchesApplied"] == log["batchesTotal"] == ITEMS // 2
        assert db.jobs.count_documents({}) == ITEMS
    # the bound docs/reliability.md states: heartbeat timeout + sweep interval (+ a loaded machine's slack)
    record_property("seconds_to_requeue", round(requeued_after, 2))
    assert requeued_after <= HEARTBEAT_S + SWEEP_S + 5, requeued_after
    client.close()
    redis.close()
