"""The real kopf operator against an emulated Kubernetes API (kmock) and a real Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from dramatiq import Broker
from jobyard_libs.queue.broker import broker_namespace, create_broker
from jobyard_libs.queue.contracts import ActorName, ExecutePayload, Queue
from jobyard_libs.queue.sender import enqueue
from jobyard_worker.settings import WorkerSettings

from tests.conftest import Isolation
from tests.support.imports import settings_for
from tests.support.kube import Cluster, emulated_cluster, running_operator
from tests.support.waiting import eventually

QUEUE = Queue.TASKS_DEFAULT.value


@pytest.fixture
def broker(isolation: Isolation) -> Iterator[tuple[Broker, WorkerSettings]]:
    settings: WorkerSettings = settings_for(isolation)
    broker = create_broker(settings)
    yield broker, settings
    broker.close()


@pytest.fixture
async def cluster(isolation: Isolation) -> AsyncIterator[Cluster]:
    async with emulated_cluster() as cluster:
        await cluster.secret("jobyard-redis", {"url": isolation.redis_url, "down": "redis://127.0.0.1:1/0"})
        yield cluster


def spec(settings: WorkerSettings, **overrides: Any) -> dict[str, Any]:
    return {
        "targetRef": {"name": "worker"},
        "queues": [QUEUE],
        "redis": {
            "secretKeyRef": {"name": "jobyard-redis", "key": "url"},
            "dramatiqNamespace": broker_namespace(settings),
        },
        "targetDepthPerReplica": 100,
        "minReplicas": 0,
        "maxReplicas": 5,
        "pollingIntervalSeconds": 1,
        "cooldownSeconds": 2,
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 2}},
        **overrides,
    }


def push(broker: Broker, count: int) -> None:
    for i in range(count):
        enqueue(
            broker, ActorName.TASK_EXECUTE, ExecutePayload(execution_id=f"e{i}"), queue=Queue.TASKS_DEFAULT
        )


def drain(broker: Broker) -> None:
    """Consume and acknowledge everything, as a worker would."""
    consumer = broker.consume(QUEUE, prefetch=500, timeout=100)
    while (message := next(consumer)) is not None:
        consumer.ack(message)
    consumer.close()


async def condition(cluster: Cluster, name: str, reason: str, within: float = 10) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def reported() -> bool:
        status = await cluster.status(name)
        for c in status.get("conditions", []):
            if c["type"] == "Ready" and c["reason"] == reason:
                found.update(c)
                return True
        return False

    await eventually(reported, within=within, what=f"condition {reason}")
    return found


async def test_scales_up_on_backlog_and_down_after_the_window_and_cooldown(
    cluster: Cluster, broker: tuple[Broker, WorkerSettings]
) -> None:
    dramatiq, settings = broker
    await cluster.deployment("worker", 0)
    await cluster.autoscaler("tasks", spec(settings))
    async with running_operator(cluster):
        push(dramatiq, 250)
        await cluster.replicas_become("worker", 3)
        status = await cluster.status("tasks")
        assert (status["queueDepth"], status["desiredReplicas"]) == (250, 3)
        assert status["queues"] == [
            {"name": QUEUE, "ready": 250, "delayed": 0, "due": 0, "inFlight": 0, "dead": 0}
        ]
        assert status["conditions"][0]["status"] == "True"
        await cluster.event_posted("ScaledUp", "0 -> 3")

        drained = time.monotonic()
        await asyncio.to_thread(drain, dramatiq)
        changed = await cluster.replicas_become("worker", 0)
        # neither down inside the 2 s stabilization window, nor to zero inside the 2 s cooldown;
        # both count from the last poll that saw work, at most one 1 s interval before the drain
        assert changed - drained >= 1.0
        await cluster.event_posted("ScaledDown", "-> 0")
        status = await cluster.status("tasks")
        assert (status["queueDepth"], status["desiredReplicas"], status["currentReplicas"]) == (0, 0, 0)


async def test_in_flight_work_keeps_its_workers(
    cluster: Cluster, broker: tuple[Broker, WorkerSettings]
) -> None:
    """KEDA counts only the ready list; a worker holding 300 unacknowledged messages must keep 3 replicas."""
    dramatiq, settings = broker
    await cluster.deployment("worker", 3)
    await cluster.autoscaler("tasks", spec(settings))
    push(dramatiq, 300)
    consumer = dramatiq.consume(QUEUE, prefetch=300, timeout=100)
    held = [next(consumer) for _ in range(300)]
    assert all(m is not None for m in held)
    async with running_operator(cluster):

        async def reported() -> bool:
            return (await cluster.status("tasks")).get("queueDepth") == 300

        await eventually(reported, within=10, what="depth 300 reported")
        # polls over more than the 2 s window and the 2 s cooldown: a scale-down would have landed
        await cluster.polls_pass("tasks", 4)
        assert await cluster.replicas("worker") == 3
        status = await cluster.status("tasks")
        assert status["queues"][0]["ready"] == 0
        assert status["queues"][0]["inFlight"] == 300
    consumer.close()


async def test_paused_freezes_the_replicas(cluster: Cluster, broker: tuple[Broker, WorkerSettings]) -> None:
    dramatiq, settings = broker
    await cluster.deployment("worker", 1)
    await cluster.autoscaler("tasks", spec(settings, paused=True))
    async with running_operator(cluster):
        push(dramatiq, 400)
        paused = await condition(cluster, "tasks", "Paused")
        assert paused["status"] == "True"

        async def seen() -> bool:
            return (await cluster.status("tasks")).get("queueDepth") == 400

        await eventually(seen, within=10, what="depth reported while paused")
        assert await cluster.replicas("worker") == 1  # depth 400 wants 4, but paused
        assert (await cluster.status("tasks"))["desiredReplicas"] == 1

        await cluster.patch(cluster.autoscaler_path("tasks"), {"spec": {"paused": False}})
        await cluster.replicas_become("worker", 4)


async def test_missing_deployment_sets_a_condition_and_an_event_then_recovers(
    cluster: Cluster, broker: tuple[Broker, WorkerSettings]
) -> None:
    dramatiq, settings = broker
    await cluster.autoscaler("tasks", spec(settings, targetRef={"name": "absent"}))
    async with running_operator(cluster):
        push(dramatiq, 120)
        missing = await condition(cluster, "tasks", "TargetNotFound")
        assert missing["status"] == "False"
        assert "absent" in missing["message"]
        assert (await cluster.event_posted("TargetNotFound"))["type"] == "Warning"
        await cluster.polls_pass("tasks", 3)  # a few more polls: still one event, no crash loop
        assert len(cluster.events("TargetNotFound")) == 1

        await cluster.deployment("absent", 0)
        await cluster.replicas_become("absent", 2)
        assert (await condition(cluster, "tasks", "Polling"))["status"] == "True"


async def test_unreachable_redis_changes_nothing(
    cluster: Cluster, broker: tuple[Broker, WorkerSettings]
) -> None:
    _, settings = broker
    await cluster.deployment("worker", 2)
    unreachable = spec(settings)
    unreachable["redis"]["secretKeyRef"]["key"] = "down"
    await cluster.autoscaler("tasks", unreachable)
    async with running_operator(cluster):
        failed = await condition(cluster, "tasks", "RedisUnavailable")
        assert failed["status"] == "False"
        await cluster.event_posted("RedisUnavailable", "127.0.0.1:1")
        # polls past the 2 s cooldown: an empty reading would have scaled to zero
        await cluster.polls_pass("tasks", 4)
        assert await cluster.replicas("worker") == 2


async def test_invalid_spec_is_reported_not_acted_on(
    cluster: Cluster, broker: tuple[Broker, WorkerSettings]
) -> None:
    _, settings = broker
    await cluster.deployment("worker", 2)
    await cluster.autoscaler("tasks", spec(settings, minReplicas=6, maxReplicas=3))
    await cluster.autoscaler(
        "nosecret", spec(settings, redis={"secretKeyRef": {"name": "nope", "key": "url"}})
    )
    async with running_operator(cluster):
        invalid = await condition(cluster, "tasks", "InvalidSpec")
        assert "minReplicas must not exceed maxReplicas" in invalid["message"]
        no_secret = await condition(cluster, "nosecret", "SecretNotFound")
        assert "nope" in no_secret["message"]
        assert await cluster.replicas("worker") == 2
