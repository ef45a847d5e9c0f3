"""A hung Redis (stopped, its socket open) holds the dispatch that waits on it, not the event
loop: the api's other requests and the worker's other attempts share that loop."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from jobyard_libs.app import Resources
from jobyard_libs.mongo import utcnow
from jobyard_libs.queue.broker import create_broker
from jobyard_libs.tasks.dispatch import dispatch
from jobyard_libs.tasks.repository import ExecutionRepository
from jobyard_worker.settings import WorkerSettings

from tests.conftest import Isolation
from tests.support.databases import KillableRedis
from tests.support.factories import a_task, an_execution
from tests.support.imports import settings_for


async def test_the_event_loop_runs_on_while_a_dispatch_waits_for_a_hung_redis(
    resources: Resources, isolation: Isolation, tmp_path: Path
) -> None:
    redis = KillableRedis(tmp_path / "redis", tmp_path / "redis.log").begin()
    broker = create_broker(
        settings_for(isolation, WorkerSettings, redis_url=redis.url, redis_socket_timeout_seconds=1)
    )
    executions = ExecutionRepository(resources.db)
    now = utcnow()
    [stored] = await executions.insert_many([an_execution(a_task(cron=None), enqueued_at=now)])
    assert redis.process is not None
    try:
        broker.client.ping()  # connected before Redis hangs: the send waits on a read
        redis.process.send_signal(signal.SIGSTOP)
        ticks = 0
        sending = asyncio.create_task(dispatch(broker, executions, [stored], stamped=now))
        while not sending.done():  # the loop is free while the send waits
            ticks += 1
            await asyncio.sleep(0.01)
        assert await sending == 0  # timed out: left for the scheduler to queue
        assert ticks > 10
        unqueued = await executions.get(stored.id, None)
        assert unqueued is not None and unqueued.enqueued_at is None
    finally:
        redis.process.send_signal(signal.SIGCONT)
        broker.close()
        redis.stop()
