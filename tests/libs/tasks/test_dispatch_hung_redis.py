"""A hung Redis (stopped, its socket open) holds the dispatches that wait on it, not the event
loop (the api's other requests and the worker's other attempts share it) nor the loop's
default executor (its name look-ups for new connections)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from jobyard_libs.app import Resources
from jobyard_libs.mongo import utcnow
from jobyard_libs.queue.broker import create_broker
from jobyard_libs.tasks.dispatch import dispatch, message_id
from jobyard_libs.tasks.documents import Execution
from jobyard_libs.tasks.repository import ExecutionRepository
from jobyard_worker.settings import WorkerSettings

from tests.conftest import Isolation
from tests.support.databases import KillableRedis
from tests.support.factories import a_task, an_execution
from tests.support.imports import settings_for


async def test_the_event_loop_runs_on_while_dispatches_wait_for_a_hung_redis(
    resources: Resources, isolation: Isolation, tmp_path: Path
) -> None:
    redis = KillableRedis(tmp_path / "redis", tmp_path / "redis.log").begin()
    broker = create_broker(  # a timeout longer than the test: only Redis coming back ends a send
        settings_for(isolation, WorkerSettings, redis_url=redis.url, redis_socket_timeout_seconds=120)
    )
    executions = ExecutionRepository(resources.db)
    now = utcnow()
    # more sends than the loop's default executor has threads
    count = min(32, (os.cpu_count() or 1) + 4) + 1
    stored = await executions.insert_many(
        [an_execution(a_task(cron=None), enqueued_at=now) for _ in range(count)]
    )
    returned = 0

    async def send(execution: Execution) -> int:
        nonlocal returned
        try:
            return await dispatch(broker, executions, [execution], stamped=now)
        finally:
            returned += 1

    assert redis.process is not None
    try:
        broker.client.ping()  # connected before Redis hangs: a send waits on a read
        redis.process.send_signal(signal.SIGSTOP)
        sending = asyncio.gather(*(send(e) for e in stored))
        # a name look-up (as a new MongoDB or Redis connection makes) runs on the loop's
        # default executor: answered while every send still waits
        await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo("localhost", 6379), 30)
        assert returned == 0
        redis.process.send_signal(signal.SIGCONT)
        assert await sending == [1] * count  # each queued once Redis answers again
        assert sorted(broker.client.lrange(f"{broker.namespace}:{stored[0].queue}", 0, -1)) == sorted(
            message_id(e.id, now).encode() for e in stored
        )
    finally:
        redis.process.send_signal(signal.SIGCONT)
        broker.close()
        redis.stop()
