"""Benchmark: task throughput and latency, Jobyard against raw Dramatiq with the same worker shape.

Throughput: ``noop`` tasks submitted through ``POST /api/v1/tasks:batch`` (1,000 a request)
→ executed by ``jobyard-worker`` → every execution record ``completed``. Raw Dramatiq:
the same count of no-op messages sent and drained by ``python -m dramatiq`` with the same
processes and threads, in the same run, on the same Redis (``bench.peers``).

Latency: single ``noop`` tasks submitted through ``POST /api/v1/tasks`` at a steady rate
(each rate in turn); each one's latency is its execution's ``completedAt`` minus the moment
its request was sent.

Exits 0 when it measured, whether or not the targets are met: ``make bench`` reports
every benchmark, and docs/performance.md says which targets are missed and why.

    python -m bench.tasks [--tasks N] [--repeats R] [--rates PER_SECOND ...] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from bson import ObjectId
from jobyard_libs.redis_client import RedisKeys
from jobyard_libs.tasks.stats import TaskStats
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from bench.infra import mongodb_for_bench, redis_for_tests
from bench.peers import PROCESSES, THREADS, raw_dramatiq
from bench.results import record, summary
from tests.conftest import Isolation
from tests.support.auth_service import auth_service
from tests.support.processes import bin_path, running_service

TARGET_RATIO = 0.5
TARGET_P99_MS = 100.0
BATCH = 1000
WAIT_LIMIT_SECONDS = 900


@dataclass
class Platform:
    api: str
    headers: dict[str, str]
    mongodb_url: str
    database: str
    redis_url: str
    prefix: str

    async def completed(self) -> int:
        """Finished ``noop`` executions, from the task stats the worker keeps in Redis.

        Polling ``count_documents`` instead would scan the executions on every poll and
        slow down the very workers it waits for.
        """
        redis = Redis.from_url(self.redis_url)
        try:
            window = await TaskStats(redis, RedisKeys(self.prefix)).read(timedelta(hours=1))
        finally:
            await redis.aclose()
        return window.counts.get(("noop", "completed"), 0)

    async def wait_completed(self, count: int) -> None:
        async with asyncio.timeout(WAIT_LIMIT_SECONDS):
            while await self.completed() < count:  # noqa: ASYNC110 - other processes finish them
                await asyncio.sleep(0.05)


@contextmanager
def jobyard_platform(mongodb_url: str, redis_url: str, tmp: Path) -> Iterator[Platform]:
    """auth, api and a worker with ``PROCESSES`` x ``THREADS``, on a database of their own."""
    token = uuid.uuid4().hex[:8]
    database, prefix = f"bench_tasks_{token}", f"bench:{token}:"
    with ExitStack() as stack:
        auth = stack.enter_context(auth_service(mongodb_url, redis_url, tmp))
        env = {
            **Isolation(mongodb_url, redis_url, database, prefix).env(),
            "JOBYARD_AUTH_URL": auth.url, "JOBYARD_AUTH_JWKS_URL": auth.jwks_url, "JOBYARD_LOG_LEVEL": "WARNING",
            "JOBYARD_TASK_SUBMIT_RATE_PER_MINUTE": "10000000",
        }  # fmt: skip
        api = stack.enter_context(running_service([bin_path("jobyard-api"), "serve"], env, tmp / "api.log"))
        worker = subprocess.Popen(
            [bin_path("jobyard-worker"), "--processes", str(PROCESSES), "--threads", str(THREADS),
             "--queues", "tasks.high", "tasks.default", "tasks.low"],
            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=(tmp / "worker.log").open("ab"),
        )  # fmt: skip
        stack.callback(worker.wait, 60)
        stack.callback(worker.terminate)
        yield Platform(api, auth.user_headers("bench@example.com"), mongodb_url, database, redis_url, prefix)


async def count_completed(platform: Platform) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(platform.mongodb_url)
    try:
        return await client[platform.database]["executions"].count_documents({"status": "completed"})
    finally:
        await client.close()


async def throughput(platform: Platform, count: int) -> float:
    """Seconds from the first batch request to the last execution completed."""
    done_before = await platform.completed()
    async with httpx.AsyncClient(base_url=platform.api, headers=platform.headers, timeout=300) as http:
        started = time.perf_counter()
        for start in range(0, count, BATCH):
            batch = [{"name": f"t{i}", "kind": "noop"} for i in range(start, min(count, start + BATCH))]
            (await http.post("/api/v1/tasks:batch", json={"tasks": batch})).raise_for_status()
        await platform.wait_completed(done_before + count)
        return time.perf_counter() - started


async def latencies(platform: Platform, rate: float, seconds: float) -> list[float]:
    """Milliseconds from each request sent to its execution completed, at ``rate`` a second."""
    sent: dict[ObjectId, float] = {}
    done_before = await platform.completed()
    async with httpx.AsyncClient(base_url=platform.api, headers=platform.headers, timeout=60) as http:

        async def submit(i: int) -> None:
            at = time.time()
            response = await http.post("/api/v1/tasks", json={"name": f"l{i}", "kind": "noop"})
            response.raise_for_status()
            sent[ObjectId(response.json()["executionId"])] = at

        count = int(rate * seconds)
        start = time.perf_counter()
        pending = []
        for i in range(count):  # a steady rate: each request at its own time, whatever the others do
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            pending.append(asyncio.create_task(submit(i)))
        await asyncio.gather(*pending)
    await platform.wait_completed(done_before + count)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(platform.mongodb_url, tz_aware=True)
    try:
        cursor = client[platform.database]["executions"].find(
            {"_id": {"$in": list(sent)}}, {"completedAt": 1}
        )
        finished = {doc["_id"]: doc["completedAt"].timestamp() async for doc in cursor}
    finally:
        await client.close()
    return sorted((finished[oid] - at) * 1000 for oid, at in sent.items())


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(fraction * len(values)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rates", type=float, nargs="+", default=[20, 100], help="single submits a second")
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        mongodb_url = stack.enter_context(mongodb_for_bench(tmp))
        redis_url = stack.enter_context(redis_for_tests(tmp / "redis"))
        platform = stack.enter_context(jobyard_platform(mongodb_url, redis_url, tmp))
        ours, raw = [], []
        for _ in range(args.repeats):  # alternated, so a slower phase of the machine hits both
            raw.append(args.tasks / raw_dramatiq(redis_url, args.tasks, tmp))
            ours.append(args.tasks / asyncio.run(throughput(platform, args.tasks)))
        stored = asyncio.run(count_completed(platform))
        if stored != args.tasks * args.repeats:
            raise SystemExit(f"{stored} execution records completed, expected {args.tasks * args.repeats}")
        waits = {rate: asyncio.run(latencies(platform, rate, args.seconds)) for rate in args.rates}
    ratio = statistics.median(ours) / statistics.median(raw)
    latency = [
        {"ratePerSecond": rate, "seconds": args.seconds, "tasks": len(values), "p50Ms": percentile(values, 0.5),
         "p99Ms": percentile(values, 0.99), "maxMs": values[-1]}
        for rate, values in waits.items()
    ]  # fmt: skip
    results = {
        "tasks": args.tasks, "repeats": args.repeats, "processes": PROCESSES, "threads": THREADS,
        "jobyardTasksPerSecond": summary(ours), "rawDramatiqMessagesPerSecond": summary(raw), "ratio": ratio,
        "latency": latency,
    }  # fmt: skip
    record("tasks", results)
    sys.stdout.write(
        f"{args.tasks:,} no-op tasks x {args.repeats}, {PROCESSES} worker processes x {THREADS} threads"
        " (median [min, max]):\n"
        f"  jobyard (API batch -> worker -> execution completed) {statistics.median(ours):8,.0f} tasks/s"
        f"  [{min(ours):,.0f}, {max(ours):,.0f}]  {ratio:.3f}x raw (target {TARGET_RATIO})\n"
        f"  raw Dramatiq (send -> drain)                          {statistics.median(raw):8,.0f} msgs/s"
        f"  [{min(raw):,.0f}, {max(raw):,.0f}]\n"
    )
    for row in latency:
        sys.stdout.write(
            f"latency, single submits at {row['ratePerSecond']:.0f}/s for {args.seconds:.0f} s"
            f" ({row['tasks']:,} tasks): p50 {row['p50Ms']:.1f} ms, p99 {row['p99Ms']:.1f} ms"
            f" (target < {TARGET_P99_MS:.0f}), max {row['maxMs']:.1f} ms\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
