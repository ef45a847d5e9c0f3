"""Benchmark: task throughput, Jobyard against raw Dramatiq, with the same worker shape.

Jobyard: ``noop`` tasks submitted through ``POST /api/v1/tasks:batch`` (1,000 a request) →
executed by ``jobyard-worker`` → every execution record ``completed``. Raw Dramatiq: the
same count of no-op messages sent (pipelined) and drained by ``python -m dramatiq`` with the
same processes and threads, in the same run, on the same Redis.

    python -m bench.tasks [--tasks N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient
from redis import Redis

from bench.results import record
from tests.support.auth_service import auth_service
from tests.support.infra import mongodb_for_tests, redis_for_tests
from tests.support.processes import bin_path, running_service

PROCESSES, THREADS = 2, 4
TARGET_RATIO = 0.5


def raw_dramatiq(redis_url: str, count: int, tmp: Path) -> float:
    os.environ["BENCH_REDIS_URL"] = redis_url  # the sender below and the worker's processes
    from bench import raw_dramatiq as raw

    redis = Redis.from_url(redis_url)
    redis.delete(raw.COUNTER)
    env = {**os.environ, "BENCH_REDIS_URL": redis_url}
    worker = subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "bench.raw_dramatiq", "--processes", str(PROCESSES),
         "--threads", str(THREADS)], env=env, stdout=subprocess.DEVNULL, stderr=(tmp / "raw.log").open("wb"),
    )  # fmt: skip
    try:
        started = time.perf_counter()
        for _ in range(count):  # one send per message, as Jobyard's api does
            raw.noop.send()
        while int(redis.get(raw.COUNTER) or 0) < count:
            time.sleep(0.05)
        return time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(60)


async def completed(mongodb_url: str, database: str, count: int) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url)
    try:
        while await client[database]["executions"].count_documents({"status": "completed"}) < count:  # noqa: ASYNC110 - another process writes
            await asyncio.sleep(0.2)
    finally:
        await client.close()


def jobyard(mongodb_url: str, redis_url: str, count: int, tmp: Path) -> float:
    with ExitStack() as stack:
        auth = stack.enter_context(auth_service(mongodb_url, redis_url, tmp))
        env = {
            "JOBYARD_MONGODB_URL": mongodb_url, "JOBYARD_MONGODB_DATABASE": "bench_tasks",
            "JOBYARD_REDIS_URL": redis_url, "JOBYARD_REDIS_KEY_PREFIX": "bench:", "JOBYARD_ENVIRONMENT": "test",
            "JOBYARD_AUTH_URL": auth.url, "JOBYARD_AUTH_JWKS_URL": auth.jwks_url, "JOBYARD_LOG_LEVEL": "WARNING",
            "JOBYARD_TASK_SUBMIT_RATE_PER_MINUTE": str(count * 10), "JOBYARD_WORKER_METRICS_PORT": "0",
        }  # fmt: skip
        api = stack.enter_context(running_service([bin_path("jobyard-api"), "serve"], env, tmp / "api.log"))
        worker = subprocess.Popen(
            [bin_path("jobyard-worker"), "--processes", str(PROCESSES), "--threads", str(THREADS),
             "--queues", "tasks.high", "tasks.default", "tasks.low"],
            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=(tmp / "worker.log").open("wb"),
        )  # fmt: skip
        stack.callback(worker.wait, 60)
        stack.callback(worker.terminate)
        headers = auth.user_headers("bench@example.com")
        with httpx.Client(base_url=api, headers=headers, timeout=120) as http:
            started = time.perf_counter()
            for start in range(0, count, 1000):
                batch = [{"name": f"t{i}", "kind": "noop"} for i in range(start, min(count, start + 1000))]
                http.post("/api/v1/tasks:batch", json={"tasks": batch}).raise_for_status()
            asyncio.run(completed(mongodb_url, "bench_tasks", count))
            return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=20_000)
    count = parser.parse_args().tasks
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        mongodb_url = stack.enter_context(mongodb_for_tests(tmp / "mongo"))
        redis_url = stack.enter_context(redis_for_tests(tmp / "redis"))
        raw = raw_dramatiq(redis_url, count, tmp)
        ours = jobyard(mongodb_url, redis_url, count, tmp)
    results = {
        "tasks": count, "processes": PROCESSES, "threads": THREADS,
        "jobyardTasksPerSecond": count / ours, "rawDramatiqMessagesPerSecond": count / raw, "ratio": raw / ours,
    }  # fmt: skip
    record("tasks", results)
    sys.stdout.write(
        f"{count:,} no-op tasks, {PROCESSES} worker processes x {THREADS} threads:\n"
        f"  jobyard (API batch -> worker -> execution completed) {results['jobyardTasksPerSecond']:8,.0f} tasks/s"
        f"  ({results['ratio']:.3f}x raw; target {TARGET_RATIO})\n"
        f"  raw Dramatiq (send -> drain)                          {results['rawDramatiqMessagesPerSecond']:8,.0f} msgs/s\n"
    )
    return 0 if results["ratio"] >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
