"""The Workers board: each worker process from its heartbeat and card, what it runs now,
stale ones marked, and the scheduler's leader with its last tick."""

from __future__ import annotations

import os
from importlib import metadata
from typing import Any

from jobyard_libs.mongo import utcnow
from jobyard_libs.queue.broker import create_broker
from jobyard_libs.queue.liveness import LEADER_TICK
from jobyard_libs.redis_client import RedisKeys
from jobyard_libs.tasks.dispatch import dispatch
from jobyard_libs.tasks.models import TaskStatus, TaskType
from jobyard_libs.tasks.repository import ExecutionRepository
from jobyard_monitor.app import create_app
from jobyard_monitor.settings import MonitorSettings
from jobyard_scheduler.loop.leader import LeaderLease
from jobyard_worker.settings import WorkerSettings
from redis.asyncio import Redis

from tests.conftest import Isolation
from tests.support.asgi import client_for
from tests.support.auth_service import AuthService
from tests.support.factories import a_task, an_execution, store
from tests.support.imports import running_worker, settings_for
from tests.support.waiting import eventually

TIMEOUT = {"queue_heartbeat_timeout_ms": 2000}


async def test_the_board_shows_each_worker_what_it_runs_and_when_it_went_quiet(
    isolation: Isolation, auth: AuthService, db: Any
) -> None:
    settings: MonitorSettings = settings_for(
        isolation, MonitorSettings, auth_url=auth.url, auth_jwks_url=auth.jwks_url, **TIMEOUT
    )
    admin = auth.admin_headers()
    task = a_task(
        cron=None,
        type=TaskType.ONE_TIME,
        status=TaskStatus.DONE,
        kind="sleep",
        payload={"seconds": 30},
        timeout_ms=60_000,
    )
    execution = an_execution(task)
    await store(db, task, execution)
    app = create_app(settings)
    async with client_for(app) as monitor:
        refused = await monitor.get("/api/v1/workers", headers=auth.user_headers("curious@example.com"))
        assert refused.status_code == 403
        board: dict[str, Any] = {}

        async def shown(check: Any) -> bool:
            nonlocal board
            board = (await monitor.get("/api/v1/workers", headers=admin)).json()
            return bool(check(board))

        worker_settings = settings_for(isolation, WorkerSettings, task_cancel_poll_seconds=0.05, **TIMEOUT)
        with running_worker(worker_settings, threads=3):
            broker = create_broker(worker_settings)
            try:
                await dispatch(broker, ExecutionRepository(db), [execution])
            finally:
                broker.close()
            await eventually(
                lambda: shown(
                    lambda b: b["workers"] and b["workers"][0]["running"] and b["workers"][0]["pid"]
                ),
                within=15,
                what="the worker holding the sleep",
            )
            [worker] = board["workers"]
            assert (worker["pid"], worker["threads"], worker["stale"]) == (os.getpid(), 3, False)
            assert "tasks.default" in worker["queues"] and worker["rssBytes"] > 10_000_000
            assert worker["host"] and worker["version"] == metadata.version("jobyard-worker")
            assert [r["executionId"] for r in worker["running"]] == [str(execution.id)]
            assert worker["beatAgeSeconds"] < 2
            await db.executions.update_one({"_id": execution.id}, {"$set": {"cancelRequested": True}})
        # stopped: it no longer beats, and once the heartbeat timeout passes it shows as stale
        await eventually(
            lambda: shown(lambda b: b["workers"][0]["stale"]), within=10, what="the worker marked stale"
        )
        assert board["heartbeatTimeoutSeconds"] == 2
        assert board["scheduler"] == {
            "present": False,
            "host": None,
            "pid": None,
            "fence": None,
            "tickAt": None,
            "tickAgeSeconds": None,
        }

        # a leader that ticked
        redis = Redis.from_url(isolation.redis_url)
        keys = RedisKeys(isolation.key_prefix)
        lease = LeaderLease(redis, keys.key("scheduler"), lease_ms=10_000)
        assert await lease.hold()
        await lease.record_tick(keys.key(*LEADER_TICK), utcnow())
        await redis.aclose()
        leader = (await monitor.get("/api/v1/workers", headers=admin)).json()["scheduler"]
        assert leader["present"] is True and leader["pid"] == os.getpid() and leader["fence"] >= 1
        assert leader["tickAgeSeconds"] < 5
