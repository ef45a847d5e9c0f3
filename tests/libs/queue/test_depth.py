"""Queue depth as Dramatiq really holds it, on real Redis with a real Dramatiq consumer."""

from __future__ import annotations

import time

from jobyard_libs.queue.broker import broker_namespace, create_broker
from jobyard_libs.queue.contracts import ActorName, ExecutePayload, Queue
from jobyard_libs.queue.depth import queue_depths
from jobyard_libs.queue.sender import enqueue
from jobyard_worker.settings import WorkerSettings
from redis.asyncio import Redis

from tests.conftest import Isolation
from tests.support.imports import settings_for


async def test_ready_delayed_in_flight_and_dead(isolation: Isolation) -> None:
    settings: WorkerSettings = settings_for(isolation)
    broker = create_broker(settings)
    try:
        for i in range(5):
            enqueue(
                broker, ActorName.TASK_EXECUTE, ExecutePayload(execution_id=f"e{i}"), queue=Queue.TASKS_LOW
            )
        for i in range(3):
            enqueue(
                broker,
                ActorName.TASK_EXECUTE,
                ExecutePayload(execution_id=f"d{i}"),
                queue=Queue.TASKS_LOW,
                delay_ms=60_000 * (i + 1),
            )
        consumer = broker.consume(Queue.TASKS_LOW.value, prefetch=2, timeout=100)
        held = [next(consumer), next(consumer)]  # a worker took two and has not acknowledged them
        assert held[1] is not None
        consumer.nack(held[1])  # one of them failed for good: dead

        redis = Redis.from_url(isolation.redis_url)
        try:
            [now] = await queue_depths(redis, broker_namespace(settings), [Queue.TASKS_LOW.value])
            later = int(time.time() * 1000) + 90_000
            [in_90s] = await queue_depths(
                redis, broker_namespace(settings), [Queue.TASKS_LOW.value], now_ms=later
            )
            [empty] = await queue_depths(redis, broker_namespace(settings), [Queue.TASKS_HIGH.value])
        finally:
            await redis.aclose()
        consumer.close()
    finally:
        broker.close()
    assert (now.ready, now.in_flight, now.dead, now.delayed, now.delayed_due) == (3, 1, 1, 3, 0)
    assert now.backlog == 4
    assert now.oldest_ready_age_seconds >= 0
    assert (in_90s.delayed, in_90s.delayed_due) == (3, 1)  # the 60-second one is due by then
    assert in_90s.backlog == 5
    assert (empty.ready, empty.in_flight, empty.dead, empty.delayed) == (0, 0, 0, 0)
