"""A worker SIGKILLed mid-tasks and mid-import: its messages come back within the heartbeat
timeout plus the sweep, its attempts (whatever their timeout) and its import run are taken
over as soon as its heartbeat expires, every task runs to completion once, the import's
counts are exact; a worker that was only paused past the heartbeat cannot record an attempt
that was taken over (fencing by claim token)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jobyard_libs.queue.liveness import WORKER_LOST
from pymongo import MongoClient
from redis import Redis

from tests.faults.conftest import FAST_RECOVERY, fault_env
from tests.faults.workers import frozen_replacement, stop, until, worker
from tests.support.console import signed_in
from tests.support.feed_factory import chunks
from tests.support.feed_server import FeedServer
from tests.support.stack import running_stack

HEARTBEAT_S = int(FAST_RECOVERY["JOBYARD_QUEUE_HEARTBEAT_TIMEOUT_MS"]) / 1000
SWEEP_S = float(FAST_RECOVERY["JOBYARD_QUEUE_SWEEP_SECONDS"])
ITEMS = 400


@pytest.fixture
def public() -> Iterator[FeedServer]:
    """The internet: a big feed at /big.xml, and whatever the test adds."""
    server = FeedServer()
    server.serve("/big.xml", b"".join(chunks(ITEMS)))
    yield server
    server.stop()


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
        doomed = worker(stack, tmp_path / "doomed-worker.log")
        with httpx.Client(base_url=stack.api, timeout=30) as api:
            [log_id] = api.post("/api/v1/imports", headers=admin).json()["importLogIds"]
            until(
                lambda: (db.import_logs.find_one({"_id": _oid(log_id)}) or {}).get("batchesApplied", 0) >= 10,
                "the import to be under way",
            )
            # its replacement, up before the kill (as a second replica would be) but frozen until
            # the kill, so that the tasks go to the doomed worker alone, however slow the start
            replacement = frozen_replacement(stack, tmp_path)
            # calls that last until the test lets them answer: still running when the kill comes
            held = {"kind": "http", "payload": {"url": held_url}, "timeoutMs": 13000, "maxRetries": 2}
            tasks = [
                api.post("/api/v1/tasks", json={"name": f"s{i}", **held}, headers=me).json()["id"]
                for i in range(4)
            ]
            until(
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
                until(
                    lambda: not any(redis.exists(key) for key in dead_sets),
                    "the dead worker's messages to return",
                )
                requeued_after = time.monotonic() - killed_at
                gate.set()  # the retries' calls answer at once
                until(
                    lambda: db.executions.count_documents({"status": "completed"}) == 4,
                    "the tasks to complete",
                )
                until(
                    lambda: (
                        (db.import_logs.find_one({"_id": _oid(log_id)}) or {}).get("status") == "completed"
                    ),
                    "the import",
                )
            finally:
                stop(replacement)
        per_task = Counter(str(e["taskId"]) for e in db.executions.find())
        assert set(per_task) == set(tasks) and set(per_task.values()) == {1}
        for execution in db.executions.find():
            assert execution["attempts"] == 2  # the killed attempt counted, and was retried
            assert execution["attemptHistory"][0]["error"] == WORKER_LOST
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


def test_a_dead_workers_attempts_run_again_within_the_heartbeat_bound_whatever_their_timeout(
    mongodb_url: str,
    redis_url: str,
    tmp_path: Path,
    public: FeedServer,
    record_property: Callable[[str, object], None],
) -> None:
    """Default timeouts (300 s) and an hour: with the old rule (timeout + 60 s of grace) none of
    these would run again for minutes; each runs again within heartbeat + sweep + 5 s."""
    env = {
        **fault_env(mongodb_url, redis_url),
        "JOBYARD_TASK_STALE_GRACE_SECONDS": "60",  # the default: the old rule cannot rescue these
        "JOBYARD_CONSOLE_COOKIE_SECURE": "false",  # httpx keeps Secure cookies to https
    }
    gate = threading.Event()
    held_url = public.serve("/held", b"ok", content_type="text/plain", hold=gate)
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_url)
    db = client[env["JOBYARD_MONGODB_DATABASE"]]
    try:
        with running_stack(env, tmp_path, scheduler=True, console=True) as stack:
            email = "lost@example.com"
            me = stack.auth.user_headers(email)
            doomed = worker(stack, tmp_path / "doomed-worker.log")
            replacement = frozen_replacement(stack, tmp_path)
            with httpx.Client(base_url=stack.api, timeout=30) as api:
                held = {"kind": "http", "payload": {"url": held_url}, "maxRetries": 2}
                timeouts = [None, None, 3_600_000]  # the default (300 s) twice, and an hour
                tasks = [
                    api.post(
                        "/api/v1/tasks",
                        json={"name": f"t{i}", **held, **({"timeoutMs": t} if t else {})},
                        headers=me,
                    ).json()["id"]
                    for i, t in enumerate(timeouts)
                ]
                until(lambda: db.executions.count_documents({"status": "processing"}) == 3, "tasks running")
                holders = {e["holder"] for e in db.executions.find()}
                assert len(holders) == 1 and None not in holders  # the doomed worker's id
                try:
                    os.killpg(doomed.pid, signal.SIGKILL)
                    doomed.wait(30)
                    killed_at = time.monotonic()
                    os.killpg(replacement.pid, signal.SIGCONT)
                    until(
                        lambda: db.executions.count_documents({"status": "processing", "attempts": 2}) == 3,
                        "every attempt to run again on the replacement",
                    )
                    running_again_after = time.monotonic() - killed_at
                    new_holders = {e["holder"] for e in db.executions.find()}
                    assert len(new_holders) == 1 and not new_holders & holders
                    gate.set()
                    until(lambda: db.executions.count_documents({"status": "completed"}) == 3, "completion")
                finally:
                    stop(replacement)
                for task_id in tasks:
                    [execution] = api.get(f"/api/v1/tasks/{task_id}/executions", headers=me).json()["items"]
                    first, second = execution["attemptHistory"]
                    assert (
                        first["workerLost"]
                        and first["status"] == "retrying"
                        and first["error"] == WORKER_LOST
                    )
                    assert not second["workerLost"] and second["status"] == "completed"
                page = signed_in(stack, email).http.get(f"/executions/{execution['id']}")
                assert page.status_code == 200 and "worker lost; retried" in page.text
    finally:
        client.close()
    record_property("seconds_to_run_again", round(running_again_after, 2))
    assert running_again_after <= HEARTBEAT_S + SWEEP_S + 5, running_again_after


def test_a_worker_paused_past_the_heartbeat_cannot_record_an_attempt_taken_over(
    mongodb_url: str, redis_url: str, tmp_path: Path, public: FeedServer
) -> None:
    """A long GC pause or a partition, played by SIGSTOP: the attempt is taken over and
    completed by another worker; when the first comes back, its call's answer arrives and its
    end of the attempt no longer matches. The side effect ran twice (at least once); the
    outcome is recorded once."""
    env = fault_env(mongodb_url, redis_url)
    gate = threading.Event()
    held_url = public.serve("/paused", b"ok", content_type="text/plain", hold=gate)
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_url)
    db = client[env["JOBYARD_MONGODB_DATABASE"]]
    paused_log = tmp_path / "paused-worker.log"
    try:
        with running_stack(env, tmp_path, scheduler=True) as stack:
            me = stack.auth.user_headers("paused@example.com")
            paused = worker(stack, paused_log)
            replacement = frozen_replacement(stack, tmp_path)
            with httpx.Client(base_url=stack.api, timeout=30) as api:
                body = {"name": "p", "kind": "http", "payload": {"url": held_url}, "maxRetries": 2}
                api.post("/api/v1/tasks", json=body, headers=me).raise_for_status()
                until(lambda: public.hits["/paused"] == 1, "the first attempt's call")
                try:
                    os.killpg(paused.pid, signal.SIGSTOP)
                    os.killpg(replacement.pid, signal.SIGCONT)
                    until(lambda: public.hits["/paused"] == 2, "the attempt taken over")
                    gate.set()  # both calls answer
                    until(lambda: db.executions.count_documents({"status": "completed"}) == 1, "completion")
                    os.killpg(paused.pid, signal.SIGCONT)
                    until(
                        lambda: "attempt_outcome_not_recorded" in paused_log.read_text(),
                        "the paused worker to find its attempt taken over",
                    )
                finally:
                    stop(paused)
                    stop(replacement)
        [execution] = list(db.executions.find())
        assert execution["status"] == "completed" and execution["attempts"] == 2
        assert [a["status"] for a in execution["attemptHistory"]] == ["retrying", "completed"]
        assert execution["attemptHistory"][0]["error"] == WORKER_LOST
        assert public.hits["/paused"] == 2  # the side effect: at least once
    finally:
        client.close()


def test_a_worker_killed_in_an_attempt_not_yet_written_has_it_counted_lost_and_run_once_more(
    mongodb_url: str, redis_url: str, tmp_path: Path, public: FeedServer
) -> None:
    """An attempt held by its Redis claim alone (written ``processing`` only past
    JOBYARD_TASK_PROCESSING_WRITE_AFTER_MS, here a minute): its worker SIGKILLed while the
    record still says pending. Its message comes back, finds the dead worker's claim, and
    counts that attempt lost against ``maxRetries``, as a written one is; the next runs once."""
    env = {**fault_env(mongodb_url, redis_url), "JOBYARD_TASK_PROCESSING_WRITE_AFTER_MS": "60000"}
    gate = threading.Event()
    held_url = public.serve("/unwritten", b"ok", content_type="text/plain", hold=gate)
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_url)
    db = client[env["JOBYARD_MONGODB_DATABASE"]]
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        with running_stack(env, tmp_path, scheduler=True) as stack:
            me = stack.auth.user_headers("unwritten@example.com")
            doomed = worker(stack, tmp_path / "doomed-worker.log")
            replacement = frozen_replacement(stack, tmp_path)
            with httpx.Client(base_url=stack.api, timeout=30) as api:
                body = {"name": "u", "kind": "http", "payload": {"url": held_url}, "maxRetries": 2}
                api.post("/api/v1/tasks", json=body, headers=me).raise_for_status()
                until(lambda: public.hits["/unwritten"] == 1, "the first attempt's call")
                [record] = list(db.executions.find())
                assert (record["status"], record["attempts"]) == ("pending", 0)  # its claim alone
                claim = redis.get(f"{env['JOBYARD_REDIS_KEY_PREFIX']}claim:{record['_id']}")
                assert claim is not None and str(claim).endswith("|1")
                try:
                    os.killpg(doomed.pid, signal.SIGKILL)
                    doomed.wait(30)
                    os.killpg(replacement.pid, signal.SIGCONT)
                    until(lambda: public.hits["/unwritten"] == 2, "the attempt to run again")
                    gate.set()
                    until(lambda: db.executions.count_documents({"status": "completed"}) == 1, "completion")
                finally:
                    stop(replacement)
        [execution] = list(db.executions.find())
        assert execution["attempts"] == 2
        assert [a["status"] for a in execution["attemptHistory"]] == ["retrying", "completed"]
        assert execution["attemptHistory"][0]["error"] == WORKER_LOST
        assert public.hits["/unwritten"] == 2
    finally:
        client.close()
        redis.close()


def test_an_import_run_whose_worker_died_is_taken_over_at_once(
    mongodb_url: str,
    redis_url: str,
    tmp_path: Path,
    public: FeedServer,
    record_property: Callable[[str, object], None],
) -> None:
    """Killed mid-fetch: the run message comes back and the new worker takes the run over
    (before, the run's claim held for 35 minutes and the feed waited for the next hour)."""
    gate = threading.Event()
    public.serve("/slow.xml", b"".join(chunks(40)), hold=gate)
    env = {
        **fault_env(mongodb_url, redis_url),
        "JOBYARD_IMPORT_BATCH_SIZE": "10",
        "JOBYARD_FEEDS": f'["{public.base_url}/slow.xml"]',
    }
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_url)
    db = client[env["JOBYARD_MONGODB_DATABASE"]]
    try:
        with running_stack(env, tmp_path, scheduler=True) as stack:
            doomed = worker(stack, tmp_path / "doomed-worker.log")
            replacement = frozen_replacement(stack, tmp_path)
            with httpx.Client(base_url=stack.api, timeout=30) as api:
                admin = stack.auth.admin_headers()
                [log_id] = api.post("/api/v1/imports", headers=admin).json()["importLogIds"]
                until(lambda: public.hits["/slow.xml"] == 1, "the run to be fetching")
                first_runner = (db.import_logs.find_one({"_id": _oid(log_id)}) or {}).get("runner")
                assert first_runner
                try:
                    os.killpg(doomed.pid, signal.SIGKILL)
                    doomed.wait(30)
                    killed_at = time.monotonic()
                    os.killpg(replacement.pid, signal.SIGCONT)
                    until(lambda: public.hits["/slow.xml"] == 2, "the run to be taken over")
                    taken_over_after = time.monotonic() - killed_at
                    gate.set()
                    until(
                        lambda: (
                            (db.import_logs.find_one({"_id": _oid(log_id)}) or {}).get("status")
                            == "completed"
                        ),
                        "the import",
                    )
                finally:
                    stop(replacement)
        stored = db.import_logs.find_one({"_id": _oid(log_id)})
        assert stored is not None and stored["runner"] not in (None, first_runner)
        assert stored["newJobs"] == 40 and stored["totalImported"] == 40 and stored["failedCount"] == 0
        assert db.import_logs.count_documents({}) == 1 and db.jobs.count_documents({}) == 40
    finally:
        client.close()
    record_property("seconds_to_take_over", round(taken_over_after, 2))
    assert taken_over_after <= HEARTBEAT_S + SWEEP_S + 5, taken_over_after
