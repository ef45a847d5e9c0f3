"""Redis killed (losing everything it held) and brought back while users submit tasks, sign
in, and an import runs: no 500, every accepted task runs exactly once, the first login
after works, and the import, whose queued batches died with Redis, completes with exact
counts (the scheduler's leader sends again what Redis lost)."""

from __future__ import annotations

import threading
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
from tests.support.auth_service import USER_PASSWORD
from tests.support.databases import KillableRedis
from tests.support.feed_factory import chunks
from tests.support.feed_server import FeedServer
from tests.support.stack import running_stack

GENEROUS = 120.0
ITEMS = 600


@pytest.fixture
def big_feed() -> Iterator[str]:
    server = FeedServer()
    server.serve("/big.xml", b"".join(chunks(ITEMS)))
    yield f"{server.base_url}/big.xml"
    server.stop()


def _until(condition: Callable[[], bool], what: str) -> None:
    wait_until(condition, timeout=GENEROUS, what=what, interval=0.1)


class Traffic:
    """Tasks submitted and sign-ins tried from a thread until stopped; every answer kept."""

    def __init__(self, api: str, auth: str, headers: dict[str, str], email: str) -> None:
        self.api, self.auth, self.headers, self.email = api, auth, headers, email
        self.accepted: list[str] = []
        self.statuses: Counter[int] = Counter()
        self.login_statuses: Counter[int] = Counter()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with httpx.Client(timeout=30) as http:
            n = 0
            while not self.stop.is_set():
                n += 1
                answer = http.post(
                    f"{self.api}/api/v1/tasks", json={"name": f"t{n}", "kind": "noop"}, headers=self.headers
                )
                self.statuses[answer.status_code] += 1
                if answer.status_code == 201:
                    self.accepted.append(answer.json()["id"])
                login = http.post(
                    f"{self.auth}/auth/v1/login", json={"email": self.email, "password": USER_PASSWORD}
                )
                self.login_statuses[login.status_code] += 1
                self.stop.wait(0.05)


def test_redis_lost_and_back_loses_no_accepted_task(
    own_redis: KillableRedis,
    mongodb_url: str,
    tmp_path: Path,
    big_feed: str,
    record_property: Callable[[str, object], None],
) -> None:
    env = {
        **fault_env(mongodb_url, own_redis.url),
        "JOBYARD_IMPORT_BATCH_SIZE": "2",
        "JOBYARD_IMPORT_RESUME_AFTER_SECONDS": "2",
        "JOBYARD_FEEDS": f'["{big_feed}"]',
    }
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_url)
    db = client[env["JOBYARD_MONGODB_DATABASE"]]

    def import_log() -> dict[str, Any]:
        return db.import_logs.find_one({"_id": ObjectId(log_id)}) or {}

    with running_stack(env, tmp_path, worker=True, worker_threads=2, scheduler=True) as stack:
        email = "redis-outage@example.com"
        headers = stack.auth.user_headers(email)
        with httpx.Client(base_url=stack.api, timeout=30) as api:
            [log_id] = api.post("/api/v1/imports", headers=stack.auth.admin_headers()).json()["importLogIds"]
        traffic = Traffic(stack.api, stack.auth.url, headers, email)
        traffic.thread.start()
        try:
            _until(lambda: len(traffic.accepted) >= 10, "submissions before the outage")
            _until(lambda: import_log().get("batchesApplied", 0) >= 5, "the import to be under way")
            assert import_log()["status"] == "processing"
            own_redis.kill()  # every queued message and every counter is gone with it
            during = len(traffic.accepted)
            _until(lambda: len(traffic.accepted) >= during + 10, "submissions during the outage")
            assert traffic.login_statuses[503] > 0  # sign-in fails closed: no unthrottled guessing
            own_redis.begin()
            back = time.monotonic()
            after = len(traffic.accepted)
            _until(
                lambda: len(traffic.accepted) >= after + 10 and traffic.login_statuses[200] > 2,
                "traffic after",
            )
        finally:
            traffic.stop.set()
            traffic.thread.join(60)
        assert traffic.statuses.keys() <= {201}, traffic.statuses  # stored while Redis was away, not refused
        assert traffic.login_statuses.keys() <= {200, 503}, traffic.login_statuses  # never a 500

        executions = db.executions

        def all_done() -> bool:
            return bool(executions.count_documents({"status": "completed"}) >= len(traffic.accepted))

        _until(all_done, "every accepted task to complete")
        record_property("seconds_to_run_every_task_after_return", round(time.monotonic() - back, 2))
        per_task = Counter(str(doc["taskId"]) for doc in executions.find({}, {"taskId": 1}))
        assert set(per_task) == set(traffic.accepted)
        assert set(per_task.values()) == {1}, "a task ran twice"
        assert executions.count_documents({"status": {"$ne": "completed"}}) == 0
        _until(
            lambda: import_log().get("status") == "completed",
            "the import, whose queued batches Redis lost, to complete",
        )
        log = import_log()
        assert (log["newJobs"], log["totalImported"], log["failedCount"]) == (ITEMS, ITEMS, 0)
        assert log["batchesApplied"] == log["batchesTotal"] == ITEMS // 2
        assert db.jobs.count_documents({}) == ITEMS
        assert "import_resumed" in stack.log("scheduler")  # the batches really were lost, and sent again
        assert all(p.poll() is None for p in stack.processes.values())
    client.close()
