"""Benchmark: collection sizes under a sustained load with a short retention stay bounded.

The platform (auth, api, a worker, the scheduler's leader) runs ``noop`` one-time tasks
submitted at a steady rate through ``POST /api/v1/tasks:batch`` for ``--seconds``, with
completed executions kept ``--keep`` seconds and the leader sweeping every 2 s. Every 2 s
it counts the ``executions`` and ``tasks`` documents. Without retention both would grow by
the rate every second; with it they level off near ``rate x (keep + sweep + lag)``: the
figure is the largest count in the second half of the run against that ceiling, and the
slope of the counts over the second half (documents a second; about 0 when bounded).

    python -m bench.retention [--servers rust] [--rate PER_SECOND] [--seconds S] [--keep S]
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
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from bench.infra import SERVERS, mongodb_for_bench, redis_for_tests, servers_here
from bench.results import record
from bench.tasks import Platform, jobyard_platform
from tests.conftest import Isolation
from tests.support.processes import bin_path

SWEEP_SECONDS = 2
SAMPLE_SECONDS = 2.0
LAG_SECONDS = 3  # submit → completed, and a sweep's own time, on a loaded 2-core machine


def scheduler(platform: Platform, keep: int, tmp: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **Isolation(platform.mongodb_url, platform.redis_url, platform.database, platform.prefix).env(),
        "JOBYARD_LOG_LEVEL": "WARNING",
        "JOBYARD_RETENTION_COMPLETED_SECONDS": str(keep),
        "JOBYARD_SCHEDULER_SWEEP_SECONDS": str(SWEEP_SECONDS),
    }
    with (tmp / "scheduler.log").open("ab") as log:
        return subprocess.Popen([bin_path("jobyard-scheduler"), "run"], env=env, stdout=log, stderr=log)


async def sustained(platform: Platform, rate: int, seconds: float) -> list[dict[str, float]]:
    """Submit ``rate`` tasks a second for ``seconds``; the sizes sampled meanwhile."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(platform.mongodb_url)
    db = client[platform.database]
    samples: list[dict[str, float]] = []
    started = time.perf_counter()

    async def sample() -> None:
        while (now := time.perf_counter() - started) < seconds:
            samples.append(
                {
                    "at": now,
                    "executions": await db.executions.count_documents({}),
                    "tasks": await db.tasks.count_documents({}),
                }
            )
            await asyncio.sleep(SAMPLE_SECONDS)

    async def submit() -> None:
        per_batch, every = max(1, rate // 4), 0.25
        async with httpx.AsyncClient(base_url=platform.api, headers=platform.headers, timeout=60) as http:
            tick = 0
            while time.perf_counter() - started < seconds:
                batch = [{"name": f"r{tick}-{i}", "kind": "noop"} for i in range(per_batch)]
                (await http.post("/api/v1/tasks:batch", json={"tasks": batch})).raise_for_status()
                tick += 1
                await asyncio.sleep(max(0.0, started + tick * every - time.perf_counter()))

    try:
        await asyncio.gather(sample(), submit())
    finally:
        await client.close()
    return samples


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares documents a second."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0


def run(server: str, rate: int, seconds: float, keep: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="jobyard-bench-retention-") as tmp_dir:
        tmp = Path(tmp_dir)
        with (
            redis_for_tests(tmp / "redis") as redis_url,
            mongodb_for_bench(tmp / "mongo", server) as mongodb_url,
            jobyard_platform(mongodb_url, redis_url, tmp) as platform,
        ):
            leader = scheduler(platform, keep, tmp)
            try:
                samples = asyncio.run(sustained(platform, rate, seconds))
            finally:
                leader.terminate()
                leader.wait(60)
    second_half = [s for s in samples if s["at"] >= seconds / 2]
    ceiling = rate * (keep + SWEEP_SECONDS + LAG_SECONDS)
    return {
        "submitted": int(rate * seconds),
        "ceiling": ceiling,
        "maxExecutions": max(s["executions"] for s in second_half),
        "maxTasks": max(s["tasks"] for s in second_half),
        "executionsSlopePerSecond": slope([(s["at"], s["executions"]) for s in second_half]),
        "tasksSlopePerSecond": slope([(s["at"], s["tasks"]) for s in second_half]),
        "samples": samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", nargs="+", default=["rust"], choices=SERVERS)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--keep", type=int, default=10)
    args = parser.parse_args()
    servers = {
        server: run(server, args.rate, args.seconds, args.keep)
        for server in servers_here(args.servers) or ["python"]
    }
    record(
        "retention",
        {"rate": args.rate, "seconds": args.seconds, "keepSeconds": args.keep, "servers": servers},
    )
    out = sys.stdout.write
    for server, row in servers.items():
        out(
            f"retention on {server}: {row['submitted']:,} tasks at {args.rate}/s over {args.seconds:.0f} s, "
            f"completed kept {args.keep} s\n"
            f"  second half: at most {row['maxExecutions']:,} executions and {row['maxTasks']:,} tasks "
            f"(ceiling {row['ceiling']:,}); slope {row['executionsSlopePerSecond']:+.1f} and "
            f"{row['tasksSlopePerSecond']:+.1f} documents/s (unbounded: +{args.rate})\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
