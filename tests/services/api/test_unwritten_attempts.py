"""An attempt claimed in Redis and not yet written: a second delivery of its message (a
redelivery, the scheduler's requeue) does not run it again, and looks once more after its
timeout, when the attempt has ended; a real worker, Redis and MongoDB."""

from __future__ import annotations

import threading
from typing import Any

import httpx
from bson import ObjectId
from jobyard_libs.queue.contracts import ActorName, ExecutePayload
from jobyard_libs.queue.sender import enqueue
from jobyard_worker.metrics import MESSAGES
from jobyard_worker.settings import WorkerSettings

from tests.conftest import Isolation
from tests.support.auth_service import AuthService
from tests.support.feed_server import FeedServer
from tests.support.imports import running_worker, settings_for
from tests.support.tasks import wait_execution
from tests.support.waiting import eventually

WORKER = {"task_processing_write_after_ms": 60_000, "task_stale_grace_seconds": 0.5}


def _handled() -> float:
    """Task messages this process's workers finished, whatever their outcome."""
    return sum(
        sample.value
        for metric in MESSAGES.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels["actor"] == ActorName.TASK_EXECUTE.value
    )


async def test_a_duplicate_delivery_of_an_unwritten_attempt_does_not_run_it_again(
    api: httpx.AsyncClient, auth: AuthService, feeds: FeedServer, isolation: Isolation, db: Any
) -> None:
    me = auth.user_headers("twice@example.com")
    gate = threading.Event()
    url = feeds.serve("/once", b"ok", content_type="text/plain", hold=gate)
    with running_worker(settings_for(isolation, WorkerSettings, **WORKER), threads=4) as worker:
        body = {"name": "once", "kind": "http", "payload": {"url": url}, "timeoutMs": 5000}
        created = (await api.post("/api/v1/tasks", json=body, headers=me)).json()
        execution_id = created["executionId"]

        async def called() -> bool:
            return feeds.hits["/once"] == 1

        await eventually(called, what="the first delivery's call")
        record = await db.executions.find_one({"_id": ObjectId(execution_id)})
        assert (record["status"], record["attempts"]) == ("pending", 0)  # claimed in Redis alone
        before = _handled()
        enqueue(worker.broker, ActorName.TASK_EXECUTE, ExecutePayload(execution_id=execution_id))

        async def handled(count: int) -> bool:
            return _handled() - before >= count

        await eventually(lambda: handled(1), what="the duplicate delivery")
        assert feeds.hits["/once"] == 1
        gate.set()
        done = await wait_execution(api, me, execution_id)
        # the duplicate looks again once the attempt's timeout and grace have passed
        await eventually(lambda: handled(2), within=30, what="the duplicate's second look")
    assert feeds.hits["/once"] == 1
    assert done["status"] == "completed" and done["attempts"] == 1
    final = await db.executions.find_one({"_id": ObjectId(execution_id)})
    assert final["status"] == "completed" and len(final["attemptHistory"]) == 1
