"""One tenant against another: callbacks, artifacts, and a task built to kill the shared worker."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
from bson import ObjectId
from jobyard_libs.mongo import utcnow
from jobyard_libs.queue.broker import create_broker
from jobyard_libs.queue.contracts import ActorName, ExecutePayload, Queue
from jobyard_libs.queue.liveness import WORKER_LOST
from jobyard_libs.queue.sender import enqueue
from jobyard_libs.settings import BaseServiceSettings
from jobyard_libs.signing import sign_headers
from pymongo import AsyncMongoClient

from tests.conftest import Isolation
from tests.support.stack import Stack
from tests.support.tasks import wait_execution


async def _submit(api: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await api.post("/api/v1/tasks", json={"name": "t", **body}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _signed(report: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(report).encode()
    return body, {"Content-Type": "application/json", **sign_headers(body, secret=secret)}


async def _waiting(api: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    created = await _submit(api, headers, kind="webhook-callback", payload={"callbackTimeoutMs": 60_000})
    return await wait_execution(api, headers, created["executionId"], {"processing"}, within=30)


async def test_a_tenant_cannot_settle_or_forge_anothers_callback(stack: Stack) -> None:
    alice, mallory = (
        stack.auth.user_headers("alice@example.com"),
        stack.auth.user_headers("mallory@example.com"),
    )
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as api:
        victim = await _waiting(api, alice)
        own = await _waiting(api, mallory)
        assert own["callbackSecret"] != victim["callbackSecret"]
        seen_by_mallory = await api.get(f"/api/v1/executions/{victim['id']}", headers=mallory)
        assert seen_by_mallory.status_code == 404  # nor can she read its secret
        forged, headers = _signed({"status": "completed", "result": {"owned": True}}, own["callbackSecret"])
        refused = await api.post(f"/api/v1/callbacks/{victim['id']}", content=forged, headers=headers)
        assert refused.status_code == 401
        still = (await api.get(f"/api/v1/executions/{victim['id']}", headers=alice)).json()
        assert still["status"] == "processing" and still["result"] is None
        body, headers = _signed({"status": "completed", "result": {"ok": 1}}, victim["callbackSecret"])
        assert (
            await api.post(f"/api/v1/callbacks/{victim['id']}", content=body, headers=headers)
        ).status_code == 200


async def test_artifacts_are_served_to_their_owner_only_and_never_by_a_results_word(stack: Stack) -> None:
    alice, mallory = (
        stack.auth.user_headers("alice2@example.com"),
        stack.auth.user_headers("mallory2@example.com"),
    )
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as api:
        export = await _submit(api, alice, kind="export-jobs-csv", payload={})
        done = await wait_execution(api, alice, export["executionId"])
        assert done["status"] == "completed", done
        artifact_id = done["result"]["artifactId"]
        assert (
            await api.get(f"/api/v1/executions/{export['executionId']}/artifact", headers=alice)
        ).status_code == 200
        stolen = await api.get(f"/api/v1/executions/{export['executionId']}/artifact", headers=mallory)
        assert stolen.status_code == 404

        # Mallory settles her own execution claiming Alice's file as its result...
        own = await _waiting(api, mallory)
        body, headers = _signed(
            {"status": "completed", "result": {"artifactId": artifact_id}}, own["callbackSecret"]
        )
        assert (
            await api.post(f"/api/v1/callbacks/{own['id']}", content=body, headers=headers)
        ).status_code == 200
        # ...and gets nothing for it: a file is found by the execution that wrote it
        claimed = await api.get(f"/api/v1/executions/{own['id']}/artifact", headers=mallory)
        assert claimed.status_code == 404


async def test_an_attempt_that_kills_its_worker_counts_against_the_retries(
    stack: Stack, module_isolation: Isolation
) -> None:
    """A task that crashes the shared worker every time (say, by memory) must end dead, not be
    redelivered for ever: each attempt whose worker died is a failed attempt."""
    me = stack.auth.user_headers("crasher@example.com")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(module_isolation.mongodb_url, tz_aware=True)
    executions = client[module_isolation.database].executions
    settings = BaseServiceSettings(
        _env_file=None, redis_url=module_isolation.redis_url, redis_key_prefix=module_isolation.key_prefix
    )
    broker = create_broker(settings)

    async def worker_dies_during(oid: ObjectId, attempt: int) -> None:
        """The execution as a worker killed mid-attempt leaves it, and its message redelivered."""
        stale = utcnow() - timedelta(seconds=5)  # past timeoutMs (100 ms) + the stale grace
        fields = {"status": "processing", "attempts": attempt, "completedAt": None, "lastAttemptAt": stale}
        await executions.update_one({"_id": oid}, {"$set": fields})
        enqueue(
            broker, ActorName.TASK_EXECUTE, ExecutePayload(execution_id=str(oid)), queue=Queue.TASKS_DEFAULT
        )

    try:
        async with httpx.AsyncClient(base_url=stack.api, timeout=30) as api:
            created = await _submit(api, me, kind="noop", maxRetries=1, timeoutMs=100)
            oid = ObjectId(created["executionId"])
            await wait_execution(api, me, created["executionId"])

            await worker_dies_during(oid, attempt=1)
            retried = await wait_execution(api, me, created["executionId"], {"completed"})
            assert retried["attempts"] == 2  # the dead attempt counted; the retry ran
            assert [(a["attempt"], a["status"], a["error"]) for a in retried["attemptHistory"][-2:]] == [
                (1, "retrying", WORKER_LOST),
                (2, "completed", None),
            ]

            await worker_dies_during(oid, attempt=2)  # and again: no retry is left
            dead = await wait_execution(api, me, created["executionId"], {"dead"})
            assert dead["attempts"] == 2
            assert dead["error"] == WORKER_LOST
        assert await client[module_isolation.database].dead_letters.count_documents({"executionId": oid}) == 1
    finally:
        broker.close()
        await client.close()
