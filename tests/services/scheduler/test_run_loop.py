"""``jobyard-scheduler run``: leader election, exactly-once runs, misfires, Redis outages."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jobyard_api.app import create_app
from jobyard_api.settings import ApiSettings
from jobyard_devstack.net import free_port
from jobyard_libs.principals import PrincipalDirectory
from jobyard_libs.queue.liveness import workers_key
from jobyard_libs.tasks.documents import Execution, TaskChanges
from jobyard_libs.tasks.models import ExecutionStatus, MisfirePolicy, TaskStatus, TaskType
from jobyard_libs.tasks.repository import ANY_OWNER, INDEXES, ExecutionRepository, TaskRepository
from jobyard_libs.tasks.rights import INVALID_SCHEDULE
from jobyard_scheduler.loop.leader import LeaderLease
from jobyard_worker.settings import WorkerSettings
from redis.asyncio import Redis

from tests.conftest import Isolation
from tests.support.asgi import client_for
from tests.support.auth_service import AuthService
from tests.support.factories import a_task
from tests.support.imports import running_worker, settings_for
from tests.support.processes import bin_path
from tests.support.scheduling import leader_firing
from tests.support.tasks import wait_execution
from tests.support.waiting import eventually

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def db(db: Any) -> Any:
    await db.tasks.create_indexes([s.model() for s in INDEXES if s.collection == "tasks"])
    await db.executions.create_indexes([s.model() for s in INDEXES if s.collection == "executions"])
    return db


async def test_two_scheduler_processes_fire_every_run_exactly_once(
    isolation: Isolation, db: Any, tmp_path: Path
) -> None:
    task = a_task(next_run_at=START)
    await TaskRepository(db).insert(task)
    env = {
        **os.environ,
        **isolation.env(),
        "JOBYARD_SCHEDULER_CLOCK_START": START.isoformat(),
        "JOBYARD_SCHEDULER_CLOCK_SPEED": "300",  # five minutes a second
        "JOBYARD_SCHEDULER_TICK_SECONDS": "0.05",
        "JOBYARD_SCHEDULER_LEASE_MS": "400",
        # 1 s of real time: longer than a lost lease (0.4 s), so the survivor fires every run
        # the dead leader left; a loaded CI machine's stall beyond it costs one catch-up gap
        # (test_misfire_policy covers what a misfire does)
        "JOBYARD_SCHEDULER_MISFIRE_GRACE_SECONDS": "300",
        "JOBYARD_LOG_LEVEL": "WARNING",
    }
    processes = [_start_scheduler(env, tmp_path / f"{name}.log") for name in ("a", "b")]

    async def fired(at_least: int) -> bool:
        return bool(await db.executions.count_documents({}) >= at_least)

    try:
        await eventually(lambda: fired(40), within=60, what="40 runs")
        processes[0].send_signal(signal.SIGKILL)  # the leader (or not) dies; the other one goes on
        count = await db.executions.count_documents({})
        await eventually(lambda: fired(count + 20), within=60, what="20 more runs after the kill")
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        codes = [process.wait(30) for process in processes]
    assert codes[1] == 0
    runs = sorted([e["scheduledFor"] async for e in db.executions.find({"taskId": task.id})])
    assert len(runs) >= 60
    assert len(runs) == len(set(runs)), "a run fired twice"
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    assert all(g >= timedelta(minutes=1) for g in gaps)
    # a leader dying costs no run; at most one stall of a loaded machine costs a catch-up gap
    assert sum(1 for g in gaps if g > timedelta(minutes=1)) <= 1
    assert runs[0] == START


def _start_scheduler(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [bin_path("jobyard-scheduler"), "run"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def test_a_stale_leader_cannot_fire(isolation: Isolation, db: Any) -> None:
    tasks = TaskRepository(db)
    task = a_task(next_run_at=START)
    await tasks.insert(task)
    async with leader_firing(isolation) as firing:
        assert (await firing.tick(START, fence=7)).fired == 1
        await tasks.update(task.id, TaskChanges(next_run_at=START + timedelta(minutes=1)))
        assert (await firing.tick(START + timedelta(minutes=1), fence=6)).fired == 0  # older token
        assert (await firing.tick(START + timedelta(minutes=1), fence=8)).fired == 1
    assert await db.executions.count_documents({}) == 2


@pytest.mark.parametrize(("policy", "runs"), [(MisfirePolicy.FIRE_ONCE, 1), (MisfirePolicy.SKIP, 0)])
async def test_misfire_policy(isolation: Isolation, db: Any, policy: MisfirePolicy, runs: int) -> None:
    tasks = TaskRepository(db)
    task = a_task(next_run_at=START, misfire_policy=policy)
    await tasks.insert(task)
    late = START + timedelta(hours=3, seconds=30)  # no scheduler lived for three hours
    async with leader_firing(isolation) as firing:
        assert (await firing.tick(late, fence=1)).fired == runs
    assert await db.executions.count_documents({}) == runs
    now = await tasks.get(task.id, None)
    assert now is not None and now.next_run_at == START + timedelta(
        hours=3, minutes=1
    )  # the next one after now


async def test_leadership_moves_when_the_lease_lapses(isolation: Isolation) -> None:
    redis = Redis.from_url(isolation.redis_url)
    try:
        first = LeaderLease(redis, f"{isolation.key_prefix}scheduler", lease_ms=200)
        second = LeaderLease(redis, f"{isolation.key_prefix}scheduler", lease_ms=200)
        assert await first.hold()
        assert not await second.hold()
        assert await first.hold()  # renewing keeps it
        await asyncio.sleep(0.3)  # the first leader froze past its lease
        assert await second.hold()
        assert second.fence is not None
        assert first.fence is not None
        assert second.fence > first.fence
        assert not await first.hold()
    finally:
        await redis.aclose()


async def test_redis_down_at_submission_then_queued_when_back(
    isolation: Isolation, db: Any, auth: AuthService
) -> None:
    down: ApiSettings = settings_for(
        isolation,
        ApiSettings,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        auth_url=auth.url,
        auth_jwks_url=auth.jwks_url,
    )
    me = auth.user_headers("outage@example.com")
    async with client_for(create_app(down)) as api:
        response = await api.post("/api/v1/tasks", json={"name": "during outage", "kind": "noop"}, headers=me)
        assert response.status_code == 201, response.text
        execution_id = response.json()["executionId"]
        pending = (await api.get(f"/api/v1/executions/{execution_id}", headers=me)).json()
        assert pending["status"] == "pending"
        assert pending["enqueuedAt"] is None

    # Redis is back: the leader's sweep queues it
    async with leader_firing(isolation) as firing:
        # just stored: the api may be queueing it right now, so the sweep leaves it alone
        assert (await firing.tick(datetime.now(UTC), fence=1)).queued == 0
    async with leader_firing(isolation, requeue_after=timedelta(0)) as firing:
        assert (await firing.tick(datetime.now(UTC), fence=1)).queued == 1
    up: ApiSettings = settings_for(isolation, ApiSettings, auth_url=auth.url, auth_jwks_url=auth.jwks_url)
    with running_worker(settings_for(isolation, WorkerSettings)):
        async with client_for(create_app(up)) as api:
            done = await wait_execution(api, me, execution_id)
    assert done["status"] == "completed"


async def test_a_delayed_task_fires_once_at_its_time(isolation: Isolation, db: Any) -> None:
    tasks = TaskRepository(db)
    due = START + timedelta(minutes=30)
    delayed = a_task(cron=None, type=TaskType.DELAYED, next_run_at=due, scheduled_at=due)
    await tasks.insert(delayed)
    async with leader_firing(isolation) as firing:
        assert (await firing.tick(due - timedelta(seconds=1), fence=1)).fired == 0  # not yet
        assert (await firing.tick(due, fence=1)).fired == 1
        assert (await firing.tick(due + timedelta(minutes=5), fence=1)).fired == 0  # once
    task = await tasks.get(delayed.id, None)
    assert task is not None and task.status is TaskStatus.DONE and task.next_run_at is None
    [execution] = await db.executions.find({}).to_list()
    assert execution["scheduledFor"] == due


async def test_a_paused_task_is_not_fired(isolation: Isolation, db: Any) -> None:
    await TaskRepository(db).insert(a_task(next_run_at=START, status=TaskStatus.PAUSED))
    async with leader_firing(isolation) as firing:
        assert (await firing.tick(START + timedelta(minutes=10), fence=1)).fired == 0
    assert await db.executions.count_documents({}) == 0


async def test_fencing_tokens_stay_monotonic_when_redis_loses_its_data(isolation: Isolation) -> None:
    """A counter that starts again at 1 would be older than the tokens tasks have seen, and no
    leader could ever claim a run again."""
    redis = Redis.from_url(isolation.redis_url)
    first = LeaderLease(redis, f"{isolation.key_prefix}scheduler", lease_ms=1000)
    try:
        assert await first.hold()
        before = first.fence
        assert before is not None
        await redis.delete(
            first.key, first.fence_key
        )  # Redis restarted empty, or failed over to a lagging replica
        second = LeaderLease(redis, f"{isolation.key_prefix}scheduler", lease_ms=1000)
        assert await second.hold()
        assert second.fence is not None and second.fence > before
    finally:
        await redis.aclose()


async def test_every_new_leader_gets_a_larger_token(isolation: Isolation) -> None:
    redis = Redis.from_url(isolation.redis_url)
    fences: list[int] = []
    try:
        for _ in range(3):
            lease = LeaderLease(redis, f"{isolation.key_prefix}scheduler", lease_ms=1000)
            assert await lease.hold()
            assert lease.fence is not None
            fences.append(lease.fence)
            await lease.release()
        assert fences == sorted(set(fences))  # strictly growing: the stored counter stays an integer
        assert int(await redis.get(f"{isolation.key_prefix}scheduler:fence") or 0) == fences[-1]
    finally:
        await redis.aclose()


async def test_unconfirmed_rights_fire_what_anyone_may_run_and_hold_admin_kinds(
    isolation: Isolation, db: Any
) -> None:
    """The rights mirror away (its Redis unreachable): a noop fires, as a user's token is
    trusted then; an admin-only kind waits for a tick that can confirm its owner, unpaused."""
    tasks = TaskRepository(db)
    anyone, admins_only = a_task(next_run_at=START), a_task(next_run_at=START, kind="import-feeds")
    await tasks.insert(anyone)
    await tasks.insert(admins_only)
    unreachable = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    try:
        async with leader_firing(isolation) as firing:
            assert isinstance(firing.rights, PrincipalDirectory)
            firing.rights = PrincipalDirectory(unreachable, firing.rights.keys)
            result = await firing.tick(START, fence=1)
    finally:
        await unreachable.aclose()
    assert (result.fired, result.paused_for_rights) == (1, 0)
    held = await tasks.get(admins_only.id, None)
    assert held is not None and (held.status, held.next_run_at) == (TaskStatus.ACTIVE, START)


async def test_a_stored_cron_of_non_standard_syntax_is_paused_not_fired(
    isolation: Isolation, db: Any
) -> None:
    """Stored before such syntax was refused (`L`, `R`...): the leader pauses it with its reason
    instead of failing every tick."""
    tasks = TaskRepository(db)
    task = a_task(cron="0 0 L * *", next_run_at=START)
    await tasks.insert(task)
    async with leader_firing(isolation) as firing:
        assert (await firing.tick(START, fence=1)).fired == 0
    stored = await tasks.get(task.id, None)
    assert stored is not None and stored.status is TaskStatus.PAUSED
    assert stored.paused_reason == INVALID_SCHEDULE
    assert await db.executions.count_documents({}) == 0


async def test_the_leader_fails_at_once_an_attempt_whose_worker_stopped_beating(
    isolation: Isolation, db: Any
) -> None:
    """When the dead worker's message was lost too, nobody redelivers it: the leader's sweep
    finds the attempt held by a worker whose heartbeat expired and retries it, whatever its
    timeout (an hour here). An attempt whose worker beats is left alone."""
    redis = Redis.from_url(isolation.redis_url)
    try:
        # liveness judges nobody within a heartbeat of Redis starting
        await eventually(lambda: _uptime_at_least(redis, 2), within=10, what="Redis up for two seconds")
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        workers = workers_key(f"{isolation.key_prefix}dramatiq")
        await redis.zadd(workers, {"gone": now_ms - 60_000, "alive": now_ms})
        executions = ExecutionRepository(db)
        started = datetime.now(UTC)
        held = {}
        for holder in ("gone", "alive"):
            running = {
                "status": ExecutionStatus.PROCESSING,
                "attempts": 1,
                "timeout_ms": 3_600_000,
                "max_retries": 2,
                "last_attempt_at": started,
                "started_at": started,
                "holder": holder,
            }
            execution = Execution.of(a_task(cron=None), started, "api").model_copy(update=running)
            stored = await executions.create(execution)
            assert stored is not None
            held[holder] = stored
        async with leader_firing(isolation, queue_heartbeat_timeout_ms=1000) as firing:
            assert (await firing.tick(datetime.now(UTC), fence=1)).workers_lost == 1
        gone, alive = [await executions.get(held[h].id, ANY_OWNER) for h in ("gone", "alive")]
        assert gone is not None and gone.status is ExecutionStatus.RETRYING
        assert gone.attempt_history[0].worker_lost
        assert alive is not None and alive.status is ExecutionStatus.PROCESSING
    finally:
        await redis.aclose()


async def _uptime_at_least(redis: Redis, seconds: int) -> bool:
    return int((await redis.info("server"))["uptime_in_seconds"]) >= seconds
