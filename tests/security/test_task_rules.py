"""What a user may make the platform do: admin-only kinds, cron floors, impossible schedules,
and run-now under the same submit limit as everything else."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from bson import ObjectId
from jobyard_api.app import create_app
from jobyard_api.settings import ApiSettings
from jobyard_libs.mongo import utcnow
from jobyard_libs.queue.broker import create_broker
from jobyard_libs.settings import BaseServiceSettings
from jobyard_libs.tasks.dispatch import dispatch
from jobyard_libs.tasks.documents import Execution
from jobyard_libs.tasks.repository import ExecutionRepository, TaskRepository
from pymongo import AsyncMongoClient

from tests.conftest import Isolation
from tests.support.asgi import client_for
from tests.support.imports import settings_for
from tests.support.stack import Stack, status_becomes
from tests.support.tasks import wait_execution

RECURRING = {"name": "r", "kind": "noop", "type": "recurring", "timezone": "UTC"}


def _post(api: httpx.Client, headers: dict[str, str], **body: Any) -> httpx.Response:
    return api.post("/api/v1/tasks", json={"name": "t", **body}, headers=headers)


def test_only_admins_may_run_imports_through_tasks(stack: Stack) -> None:
    user, admin = stack.auth.user_headers("importer@example.com"), stack.auth.admin_headers()
    with httpx.Client(base_url=stack.api, timeout=30) as api:
        refused = _post(api, user, kind="import-feeds")
        assert refused.status_code == 403
        assert refused.json()["error"] == {
            "code": "kind_not_allowed",
            "message": "tasks of kind 'import-feeds' need the admin role",
            "field": "kind",
        }
        batch = api.post(
            "/api/v1/tasks:batch", json={"tasks": [{"name": "b", "kind": "import-feeds"}]}, headers=user
        )
        assert batch.status_code == 403
        assert _post(api, admin, kind="import-feeds", type="recurring", cron="0 3 * * *").status_code == 201


def _ivy_is_demoted_after_scheduling(stack: Stack) -> tuple[dict[str, str], str]:
    admin = stack.auth.admin_headers()
    ivy = stack.auth.user_headers("ivy@example.com")
    ivy_id = stack.auth.subject(ivy)
    with (
        httpx.Client(base_url=stack.auth.url, timeout=30) as auth,
        httpx.Client(base_url=stack.api, timeout=30) as api,
    ):
        auth.patch(f"/auth/v1/users/{ivy_id}", json={"role": "admin"}, headers=admin)
        created = _post(api, ivy, kind="import-feeds", type="recurring", cron="0 3 * * *")
        assert created.status_code == 201, created.text
        auth.patch(f"/auth/v1/users/{ivy_id}", json={"role": "user"}, headers=admin)
        assert status_becomes(api, "/api/v1/feed-sources", ivy, 403) == 403  # the demotion arrived
        assert api.post(f"/api/v1/tasks/{created.json()['id']}/run", headers=ivy).status_code == 403
    return ivy, str(created.json()["id"])


async def test_a_demoted_owners_scheduled_import_does_not_run(
    stack: Stack, module_isolation: Isolation
) -> None:
    ivy, task_id = await asyncio.to_thread(_ivy_is_demoted_after_scheduling, stack)
    # the scheduler fires its next run anyway (it was scheduled while she was an admin)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(module_isolation.mongodb_url, tz_aware=True)
    broker = create_broker(
        BaseServiceSettings(
            _env_file=None, redis_url=module_isolation.redis_url, redis_key_prefix=module_isolation.key_prefix
        )
    )
    try:
        db = client[module_isolation.database]
        task = await TaskRepository(db).get(ObjectId(task_id), None)
        assert task is not None
        executions = ExecutionRepository(db)
        execution = await executions.create(Execution.of(task, utcnow(), "schedule"))
        assert execution is not None
        await dispatch(broker, executions, [execution])
        async with httpx.AsyncClient(base_url=stack.api, timeout=30) as api_async:
            dead = await wait_execution(api_async, ivy, str(execution.id))
        assert dead["status"] == "dead"
        assert "may not run 'import-feeds' tasks" in dead["error"]
        assert await db.import_logs.count_documents({}) == 0  # nothing was imported
    finally:
        broker.close()
        await client.close()


def test_a_user_cannot_fire_a_cron_every_second(stack: Stack) -> None:
    user, admin = stack.auth.user_headers("cron@example.com"), stack.auth.admin_headers()
    with httpx.Client(base_url=stack.api, timeout=30) as api:
        for cron in ("* * * * * *", "*/30 * * * * *", "0,30 * * * * *"):
            refused = _post(api, user, **{**RECURRING, "cron": cron})
            assert refused.status_code == 422, cron
            assert refused.json()["error"]["field"] == "cron"
            assert "at least 60 s apart" in refused.json()["error"]["message"]
        fine = _post(api, user, **{**RECURRING, "cron": "* * * * *"})
        assert fine.status_code == 201
        patched = api.patch(
            f"/api/v1/tasks/{fine.json()['id']}", json={"cron": "*/5 * * * * *"}, headers=user
        )
        assert patched.status_code == 422
        assert api.get(f"/api/v1/tasks/{fine.json()['id']}", headers=user).json()["cron"] == "* * * * *"
        fast = _post(api, admin, **{**RECURRING, "cron": "* * * * * *"})  # admins choose their own floor
        assert fast.status_code == 201
        api.post(f"/api/v1/tasks/{fast.json()['id']}/cancel", headers=admin)


async def test_an_impossible_cron_is_a_422_never_a_500(stack: Stack, module_isolation: Isolation) -> None:
    user = stack.auth.user_headers("feb30@example.com")
    async with httpx.AsyncClient(base_url=stack.api, timeout=30, headers=user) as api:
        created = await api.post("/api/v1/tasks", json={**RECURRING, "cron": "0 0 30 2 *"})
        assert created.status_code == 422
        assert created.json()["error"]["field"] == "cron"
        task = (await api.post("/api/v1/tasks", json={**RECURRING, "cron": "0 0 1 1 *"})).json()
        patched = await api.patch(f"/api/v1/tasks/{task['id']}", json={"cron": "0 0 31 4 *"})
        assert patched.status_code == 422
        assert (await api.post(f"/api/v1/tasks/{task['id']}/pause")).status_code == 200
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(module_isolation.mongodb_url)
    try:  # a schedule stored before the check existed
        await client[module_isolation.database].tasks.update_one(
            {"_id": ObjectId(task["id"])}, {"$set": {"cron": "0 0 30 2 *"}}
        )
    finally:
        await client.close()
    async with httpx.AsyncClient(base_url=stack.api, timeout=30, headers=user) as api:
        resumed = await api.post(f"/api/v1/tasks/{task['id']}/resume")
        assert resumed.status_code == 409
        assert "no next run" in resumed.json()["error"]["message"]


async def test_run_now_counts_against_the_submit_limit(stack: Stack, module_isolation: Isolation) -> None:
    settings = settings_for(
        module_isolation,
        ApiSettings,
        auth_url=stack.auth.url,
        auth_jwks_url=stack.auth.jwks_url,
        task_submit_rate_per_minute=3,
    )
    user = stack.auth.user_headers("runner-now@example.com")
    async with client_for(create_app(settings)) as api:
        created = await api.post("/api/v1/tasks", json={**RECURRING, "cron": "0 3 * * *"}, headers=user)
        assert created.status_code == 201  # 1 of 3
        run = f"/api/v1/tasks/{created.json()['id']}/run"
        assert (await api.post(run, headers=user)).status_code == 202  # 2
        assert (await api.post(run, headers=user)).status_code == 202  # 3
        refused = await api.post(run, headers=user)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
