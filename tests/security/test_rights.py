"""Rights follow the database: a demotion or a deactivation reaches every service within
seconds, whatever token or key the caller still holds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from bson import ObjectId
from jobyard_libs.mongo import utcnow
from jobyard_libs.queue.broker import create_broker
from jobyard_libs.settings import BaseServiceSettings
from jobyard_libs.tasks.dispatch import dispatch
from jobyard_libs.tasks.documents import Execution
from jobyard_libs.tasks.repository import ANY_OWNER, ExecutionRepository, TaskRepository
from pymongo import AsyncMongoClient

from tests.conftest import Isolation
from tests.support.feed_server import FeedServer
from tests.support.stack import Stack, status_becomes
from tests.support.waiting import eventually


@pytest.fixture
def stand_in() -> Iterator[FeedServer]:
    """What a task would call on the internet (127.0.0.2)."""
    server = FeedServer()
    yield server
    server.stop()


def _user_id(stack: Stack, headers: dict[str, str]) -> str:
    return stack.auth.subject(headers)


def test_a_demoted_admin_loses_admin_rights_everywhere_at_once(stack: Stack) -> None:
    admin = stack.auth.admin_headers()
    eve = stack.auth.user_headers("eve@example.com")
    eve_id = _user_id(stack, eve)
    with (
        httpx.Client(base_url=stack.auth.url, timeout=30) as auth,
        httpx.Client(base_url=stack.api, timeout=30) as api,
    ):
        assert (
            auth.patch(f"/auth/v1/users/{eve_id}", json={"role": "admin"}, headers=admin).status_code == 200
        )
        assert status_becomes(api, "/api/v1/feed-sources", eve, 200) == 200  # her old token, now admin
        made = auth.post("/auth/v1/api-keys", json={"name": "eve's", "scopes": ["admin"]}, headers=eve)
        key = made.json()["key"]
        assert status_becomes(api, "/api/v1/feed-sources", {"X-API-Key": key}, 200) == 200

        assert auth.patch(f"/auth/v1/users/{eve_id}", json={"role": "user"}, headers=admin).status_code == 200
        # the same token, still unexpired: refused at auth at once, and at api within seconds
        restore = auth.patch(f"/auth/v1/users/{eve_id}", json={"role": "admin"}, headers=eve)
        assert restore.status_code == 403
        assert auth.get(f"/auth/v1/users/{eve_id}", headers=admin).json()["role"] == "user"
        assert status_becomes(api, "/api/v1/feed-sources", eve, 403) == 403
        assert status_becomes(api, "/api/v1/feed-sources", {"X-API-Key": key}, 403) == 403
        assert api.get("/api/v1/tasks", headers=eve).status_code == 200  # still a user


def test_a_deactivated_user_is_refused_everywhere_at_once(stack: Stack) -> None:
    admin = stack.auth.admin_headers()
    dan = stack.auth.user_headers("dan@example.com")
    dan_id = _user_id(stack, dan)
    with (
        httpx.Client(base_url=stack.auth.url, timeout=30) as auth,
        httpx.Client(base_url=stack.api, timeout=30) as api,
    ):
        key = auth.post("/auth/v1/api-keys", json={"name": "dan's"}, headers=dan).json()["key"]
        assert api.get("/api/v1/tasks", headers=dan).status_code == 200
        assert (
            auth.patch(f"/auth/v1/users/{dan_id}", json={"active": False}, headers=admin).status_code == 200
        )
        assert status_becomes(api, "/api/v1/tasks", dan, 401) == 401
        assert status_becomes(api, "/api/v1/tasks", {"X-API-Key": key}, 401) == 401
        refused = api.post("/api/v1/tasks", json={"name": "x", "kind": "noop"}, headers=dan)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "account_deactivated"
        assert auth.get("/auth/v1/me", headers=dan).status_code == 401


def _admin_patch(stack: Stack, user_id: str, **change: object) -> dict[str, Any]:
    with httpx.Client(base_url=stack.auth.url, timeout=30) as auth:
        answer = auth.patch(f"/auth/v1/users/{user_id}", json=change, headers=stack.auth.admin_headers())
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def _promoted(stack: Stack, email: str) -> tuple[dict[str, str], str]:
    """A user made admin, once the api knows it: their headers and id."""
    headers = await asyncio.to_thread(stack.auth.user_headers, email)
    user_id = await asyncio.to_thread(stack.auth.subject, headers)
    await asyncio.to_thread(_admin_patch, stack, user_id, role="admin")
    async with httpx.AsyncClient(base_url=stack.api, timeout=30, headers=headers) as api:

        async def admin_now() -> bool:
            return (await api.get("/api/v1/feed-sources")).status_code == 200

        await eventually(admin_now, what=f"{email}'s promotion to reach the api")
    return headers, user_id


async def _tasks(db: Any, owner: str) -> dict[str, dict[str, Any]]:
    return {doc["name"]: doc async for doc in db.tasks.find({"ownerId": owner})}


async def test_a_deactivated_owners_work_never_fires_and_comes_back_on_reactivation(
    stack: Stack, module_isolation: Isolation, stand_in: FeedServer
) -> None:
    """Round two: the token was refused within seconds, but a delayed http task still fired and
    sent a signed webhook, and recurring tasks kept running. Now deactivation pauses and cancels
    at once, and the scheduler and the worker check the owner every time work fires or starts."""
    ned = await asyncio.to_thread(stack.auth.user_headers, "ned@example.com")
    ned_id = await asyncio.to_thread(stack.auth.subject, ned)
    target, hook = stand_in.serve("/ned-call", b"ok"), stand_in.serve("/ned-hook", b"ok")
    later = (datetime.now(UTC) + timedelta(seconds=4)).isoformat()
    async with httpx.AsyncClient(base_url=stack.api, timeout=30, headers=ned) as api:
        delayed_task = {"name": "delayed", "kind": "http", "type": "delayed", "scheduledAt": later}
        delayed = await api.post(
            "/api/v1/tasks", json={**delayed_task, "payload": {"url": target}, "webhookUrl": hook}
        )
        recurring_task = {"name": "recurring", "kind": "noop", "type": "recurring", "cron": "* * * * *"}
        recurring = await api.post("/api/v1/tasks", json=recurring_task)
        assert delayed.status_code == recurring.status_code == 201
    changed = await asyncio.to_thread(_admin_patch, stack, ned_id, active=False)
    assert changed["work"] == {"pausedTasks": 2, "cancelledExecutions": 0, "resumedTasks": 0}
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(module_isolation.mongodb_url, tz_aware=True)
    db = client[module_isolation.database]
    try:
        tasks = await _tasks(db, ned_id)
        assert {t["status"] for t in tasks.values()} == {"paused"}
        assert {t["pausedReason"] for t in tasks.values()} == {"owner_deactivated"}
        # the safety net: were the fast path missed, the scheduler pauses it when it falls due
        due_now = {"status": "active", "pausedReason": None, "nextRunAt": datetime.now(UTC)}
        await db.tasks.update_one({"_id": tasks["delayed"]["_id"]}, {"$set": due_now})

        async def paused_again() -> bool:
            return bool((await _tasks(db, ned_id))["delayed"]["pausedReason"] == "owner_deactivated")

        await eventually(paused_again, what="the scheduler to pause the deactivated owner's task")
        # and a worker given one of its executions anyway cancels it without running it
        task = await TaskRepository(db).get(tasks["delayed"]["_id"], None)
        assert task is not None
        executions = ExecutionRepository(db)
        forced = await executions.create(Execution.of(task, utcnow(), "schedule"))
        assert forced is not None
        broker = create_broker(
            BaseServiceSettings(
                _env_file=None,
                redis_url=module_isolation.redis_url,
                redis_key_prefix=module_isolation.key_prefix,
            )
        )
        try:
            await dispatch(broker, executions, [forced])
        finally:
            broker.close()

        async def cancelled() -> bool:
            stored = await executions.get(forced.id, ANY_OWNER)
            return stored is not None and stored.status.value == "cancelled"

        await eventually(cancelled, what="the worker to cancel the deactivated owner's execution")
        stored = await executions.get(forced.id, ANY_OWNER)
        assert stored is not None and "deactivated" in str(stored.error)
        assert (
            stand_in.hits["/ned-call"] == 0 and stand_in.hits["/ned-hook"] == 0
        )  # nothing left the building

        resumed = await asyncio.to_thread(_admin_patch, stack, ned_id, active=True)
        assert resumed["work"]["resumedTasks"] == 2
        assert {t["status"] for t in (await _tasks(db, ned_id)).values()} == {"active"}
    finally:
        await client.close()


async def test_a_demoted_admins_per_second_cron_stops(stack: Stack, module_isolation: Isolation) -> None:
    """Round two: 10 runs in 10 s after the demotion; the interval rule was only checked on
    create and PATCH. Now the demotion pauses it, and the scheduler re-checks at every fire."""
    otto, otto_id = await _promoted(stack, "otto@example.com")
    async with httpx.AsyncClient(base_url=stack.api, timeout=30, headers=otto) as api:
        every_second = {"name": "fast", "kind": "noop", "type": "recurring", "cron": "* * * * * *"}
        fast = await api.post("/api/v1/tasks", json=every_second)
        assert fast.status_code == 201, fast.text
        task_id = fast.json()["id"]
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(module_isolation.mongodb_url, tz_aware=True)
    db = client[module_isolation.database]
    try:

        async def fired_twice() -> bool:
            return await db.executions.count_documents({"taskId": ObjectId(task_id)}) >= 2

        await eventually(fired_twice, what="the per-second cron to fire")
        demoted = await asyncio.to_thread(_admin_patch, stack, otto_id, role="user")
        assert demoted["work"]["pausedTasks"] == 1
        task = await TaskRepository(db).get(ObjectId(task_id), None)
        assert task is not None and (task.status, task.paused_reason) == ("paused", "cron_too_frequent")
        # were it active again (the fast path missed), the scheduler pauses it before it fires
        await db.tasks.update_one(
            {"_id": ObjectId(task_id)}, {"$set": {"status": "active", "pausedReason": None}}
        )
        before = await db.executions.count_documents({"taskId": ObjectId(task_id)})

        async def paused() -> bool:
            again = await TaskRepository(db).get(ObjectId(task_id), None)
            return again is not None and again.paused_reason == "cron_too_frequent"

        await eventually(paused, what="the scheduler to pause the demoted owner's cron")
        assert await db.executions.count_documents({"taskId": ObjectId(task_id)}) == before
        async with httpx.AsyncClient(base_url=stack.api, timeout=30, headers=otto) as api:
            again = await api.post(f"/api/v1/tasks/{task_id}/resume")
            assert again.status_code == 409 and "more often" in again.json()["error"]["message"]
    finally:
        await client.close()


def test_key_scopes_hold_on_the_api_and_a_revoked_key_stops_everywhere(stack: Stack) -> None:
    kay = stack.auth.user_headers("kay@example.com")
    task = {"name": "k", "kind": "noop"}
    with (
        httpx.Client(base_url=stack.auth.url, timeout=30) as auth,
        httpx.Client(base_url=stack.api, timeout=30) as api,
    ):
        read = auth.post("/auth/v1/api-keys", json={"name": "ro", "scopes": ["read"]}, headers=kay).json()
        tasks = auth.post("/auth/v1/api-keys", json={"name": "rw"}, headers=kay).json()
        assert api.get("/api/v1/tasks", headers={"X-API-Key": read["key"]}).status_code == 200
        refused = api.post("/api/v1/tasks", json=task, headers={"X-API-Key": read["key"]})
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "key_scope")
        assert api.post("/api/v1/tasks", json=task, headers={"X-API-Key": tasks["key"]}).status_code == 201
        assert auth.delete(f"/auth/v1/api-keys/{tasks['id']}", headers=kay).status_code == 200
        # the api cached the key as live (JOBYARD_API_KEY_CACHE_SECONDS, 30 s): revocation is told at once
        assert status_becomes(api, "/api/v1/tasks", {"X-API-Key": tasks["key"]}, 401, within=5) == 401


async def _closed_reason(
    stack: Stack, headers: dict[str, str], change: dict[str, object], subject: str
) -> str:
    """Open a live stream as ``headers``, apply ``change`` to ``subject``; the reason it closes with."""
    async with (
        httpx.AsyncClient(base_url=stack.api, timeout=httpx.Timeout(10, read=30)) as http,
        http.stream("GET", "/api/v1/events", headers=headers) as stream,
    ):
        assert stream.status_code == 200
        lines = stream.aiter_lines()
        assert await anext(lines) == "retry: 3000"
        await asyncio.to_thread(_admin_patch, stack, subject, **change)
        async for line in lines:  # keep-alives every 0.5 s re-check the subscriber
            if line.startswith("data: ") and "reason" in line:
                return str(json.loads(line.removeprefix("data: "))["reason"])
    raise AssertionError("the stream ended without saying why")


async def test_an_open_stream_ends_when_its_subscribers_rights_change(stack: Stack) -> None:
    sam, sam_id = await _promoted(stack, "sam@example.com")
    assert await _closed_reason(stack, sam, {"role": "user"}, sam_id) == "rights_changed"
    assert await _closed_reason(stack, sam, {"active": False}, sam_id) == "account_deactivated"
