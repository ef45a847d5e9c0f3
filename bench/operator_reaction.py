"""Benchmark: how fast the operator reacts. A backlog appears → the scale patch lands.

The real operator (kopf) runs against an emulated Kubernetes API on loopback (kmock) and a
real Redis. Each round pushes a backlog at a random moment of the polling interval and
times until the Deployment's replicas change; then the queue is emptied and the Deployment
returns to one replica. Target: at most one polling interval + 1 s, every round.

For comparison (not measured here): KEDA polls every 30 s by default and then waits for the
HPA's sync (15 s), so its worst case is about 45 s.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jobyard_libs.queue.broker import broker_namespace, create_broker
from jobyard_libs.queue.contracts import ActorName, ExecutePayload, Queue
from jobyard_libs.queue.sender import enqueue
from jobyard_worker.settings import WorkerSettings

from bench.results import record
from tests.support.infra import redis_for_tests
from tests.support.kube import emulated_cluster, running_operator

INTERVALS = (1, 3)
ROUNDS = 5
BACKLOG = 500


async def rounds(redis_url: str, interval: int) -> list[float]:
    settings = WorkerSettings(redis_url=redis_url, redis_key_prefix=f"bench{interval}:")
    broker = create_broker(settings)
    queue = Queue.TASKS_DEFAULT
    spec = {
        "targetRef": {"name": "worker"},
        "queues": [queue.value],
        "redis": {
            "secretKeyRef": {"name": "redis", "key": "url"},
            "dramatiqNamespace": broker_namespace(settings),
        },
        "targetDepthPerReplica": 100,
        "minReplicas": 1,
        "maxReplicas": 10,
        "pollingIntervalSeconds": interval,
        "cooldownSeconds": 0,
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}},
    }
    reactions = []
    async with emulated_cluster() as cluster:
        await cluster.secret("redis", {"url": redis_url})
        await cluster.deployment("worker", 1)
        await cluster.autoscaler("worker", spec)
        async with running_operator(cluster):
            for _ in range(ROUNDS):
                await asyncio.sleep(random.uniform(0, interval))  # noqa: S311  # any phase of the polling loop
                pushed = time.monotonic()
                for i in range(BACKLOG):
                    enqueue(broker, ActorName.TASK_EXECUTE, ExecutePayload(execution_id=f"b{i}"), queue=queue)
                reactions.append(await cluster.replicas_become("worker", 5, within=interval + 10) - pushed)
                broker.flush(queue.value)
                await cluster.replicas_become("worker", 1, within=interval + 10)
    broker.flush_all()
    broker.close()
    return reactions


async def run(redis_url: str) -> dict[str, Any]:
    results: dict[str, Any] = {"backlog": BACKLOG, "rounds": ROUNDS, "byInterval": {}}
    for interval in INTERVALS:
        seconds = await rounds(redis_url, interval)
        results["byInterval"][str(interval)] = {
            "medianSeconds": statistics.median(seconds),
            "maxSeconds": max(seconds),
            "boundSeconds": interval + 1,
            "met": max(seconds) <= interval + 1,
        }
    return results


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp, redis_for_tests(Path(tmp)) as redis_url:
        results = asyncio.run(run(redis_url))
    record("operatorReaction", results)
    sys.stdout.write(
        f"operator reaction: backlog of {BACKLOG} appears -> scale patch lands ({ROUNDS} rounds)\n"
    )
    for interval, r in results["byInterval"].items():
        verdict = "met" if r["met"] else "MISSED"
        sys.stdout.write(
            f"  polling {interval:>2} s: median {r['medianSeconds']:.2f} s, max {r['maxSeconds']:.2f} s"
            f" (bound {r['boundSeconds']} s: {verdict})\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
