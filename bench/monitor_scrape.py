"""Benchmark: what the monitor costs with 100,000 executions and 100,000 jobs stored.

One refresh (every feed's last runs from MongoDB, the task counters of the window from
Redis) and one ``/metrics`` scrape are timed against a baseline measured in the same run on
the same data: a full count of the executions collection, which is what a naive "stats"
query costs. Neither may grow with what is stored: a scrape serves the last refresh.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bson import ObjectId
from jobyard_libs.imports.documents import FeedSource
from jobyard_libs.imports.import_logs import PER_FEED_INDEX
from jobyard_libs.mongo import ensure_indexes, utcnow
from jobyard_libs.redis_client import RedisKeys
from jobyard_libs.tasks.repository import EXECUTIONS
from jobyard_libs.tasks.stats import TaskStats
from jobyard_monitor.activity import ActivityWatcher
from prometheus_client import generate_latest
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from bench.infra import mongodb_for_bench, redis_for_tests
from bench.results import record

STORED = 100_000
RECENT = 500
REPEATS = 5


async def fill(db: Any, stats: TaskStats) -> None:
    old, now = utcnow() - timedelta(days=3), utcnow()
    for start in range(0, STORED, 10_000):
        await db[EXECUTIONS].insert_many(
            [
                {
                    "taskId": ObjectId(),
                    "kind": "noop",
                    "status": "completed",
                    "durationMs": 5,
                    "scheduledFor": old,
                    "completedAt": old,
                }
                for _ in range(10_000)
            ]
        )
        await db["jobs"].insert_many([{"guid": f"g{start + i}", "title": "Engineer"} for i in range(10_000)])
    await db[EXECUTIONS].insert_many(
        [
            {
                "taskId": ObjectId(),
                "kind": "noop",
                "status": "completed",
                "durationMs": i % 100,
                "scheduledFor": now,
                "completedAt": now,
            }
            for i in range(RECENT)
        ]
    )
    await db["feed_sources"].insert_many(
        [FeedSource(url=f"https://f{i}.example/feed", name=f"feed {i}").to_mongo() for i in range(20)]
    )


async def timed(step: Any) -> list[float]:
    seconds = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        await step()
        seconds.append(time.perf_counter() - started)
    return seconds


async def run(url: str, redis_url: str) -> dict[str, Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
    db = client["bench_monitor"]
    await client.drop_database("bench_monitor")
    await ensure_indexes(db, [PER_FEED_INDEX])
    redis = Redis.from_url(redis_url)
    stats = TaskStats(redis, RedisKeys("bench_monitor:"))
    await fill(db, stats)
    watcher = ActivityWatcher(db, stats, timedelta(minutes=5))

    async def scrape() -> None:
        generate_latest()

    async def full_count() -> None:
        await db[EXECUTIONS].count_documents({"durationMs": {"$gte": 0}})

    results: dict[str, Any] = {
        "stored": {"executions": STORED + RECENT, "jobs": STORED},
        "refreshSeconds": statistics.median(await timed(watcher.refresh)),
        "scrapeSeconds": statistics.median(await timed(scrape)),
        "baselineFullCountSeconds": statistics.median(await timed(full_count)),
    }
    results["refreshVsFullCount"] = results["refreshSeconds"] / results["baselineFullCountSeconds"]
    await client.drop_database("bench_monitor")
    await client.close()
    leftovers = [k async for k in redis.scan_iter(match="bench_monitor:*")]
    if leftovers:
        await redis.delete(*leftovers)
    await redis.aclose()
    return results


def main() -> int:
    with (
        tempfile.TemporaryDirectory() as tmp,
        mongodb_for_bench(Path(tmp)) as url,
        redis_for_tests(Path(tmp) / "redis") as redis_url,
    ):
        results = asyncio.run(run(url, redis_url))
    record("monitorScrape", results)
    sys.stdout.write(
        f"monitor with {results['stored']['executions']:,} executions and {results['stored']['jobs']:,} jobs stored "
        f"(median of {REPEATS}):\n"
        f"  refresh (indexed, bounded)       {results['refreshSeconds'] * 1000:8.1f} ms "
        f"({results['refreshVsFullCount']:.3f}x a full count)\n"
        f"  /metrics scrape (last reading)   {results['scrapeSeconds'] * 1000:8.1f} ms\n"
        f"  baseline: full count of executions {results['baselineFullCountSeconds'] * 1000:6.1f} ms\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
