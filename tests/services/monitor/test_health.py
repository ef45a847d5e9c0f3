"""Feed health and task stats: what the monitor reads, and that its cost does not grow with what is stored."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bson import ObjectId
from jobyard_libs.imports.import_logs import COLLECTION as IMPORT_LOGS
from jobyard_libs.imports.import_logs import PER_FEED_INDEX
from jobyard_libs.mongo import ensure_indexes, utcnow
from jobyard_libs.redis_client import RedisKeys
from jobyard_libs.tasks.stats import TaskStats
from jobyard_monitor.health import HealthWatcher
from prometheus_client import generate_latest
from redis.asyncio import Redis

from tests.conftest import Isolation


def _log(feed: str, status: str, minutes_ago: int, **counts: int) -> dict[str, Any]:
    at = utcnow() - timedelta(minutes=minutes_ago)
    return {"feedUrl": feed, "status": status, "timestamp": at, "finishedAt": at, **counts}


def _execution(
    kind: str, status: str, duration_ms: int, waited: timedelta, finished_ago: timedelta
) -> dict[str, Any]:
    done = utcnow() - finished_ago
    return {"_id": ObjectId(), "kind": kind, "status": status, "durationMs": duration_ms,
            "scheduledFor": done - waited, "completedAt": done}  # fmt: skip


def _plan(stage: dict[str, Any]) -> list[str]:
    return [stage["stage"], *(_plan(stage["inputStage"]) if "inputStage" in stage else [])]


async def test_feed_health_and_task_stats(db: Any, isolation: Isolation) -> None:
    await ensure_indexes(db, [PER_FEED_INDEX])
    await db["feed_sources"].insert_many(
        [{"url": u, "name": u, "enabled": True} for u in ("https://a.example/feed", "https://b.example/feed")]
    )
    await db[IMPORT_LOGS].insert_many([
        _log("https://a.example/feed", "completed", 180, totalFetched=10, newJobs=10),
        _log("https://a.example/feed", "failed", 120),
        _log("https://a.example/feed", "failed", 60),
        _log("https://a.example/feed", "processing", 1),  # still running: neither failure nor success
        _log("https://b.example/feed", "completed", 30, totalFetched=50, newJobs=2, updatedJobs=3,
             unchangedJobs=44, failedCount=1),
    ])  # fmt: skip
    redis = Redis.from_url(isolation.redis_url)
    stats = TaskStats(redis, RedisKeys(isolation.key_prefix))
    try:
        for i in range(10):
            await stats.record(
                _execution("noop", "completed", 100 * (i + 1), timedelta(seconds=i + 1), timedelta(0))
            )
        for _ in range(2):
            await stats.record(_execution("http", "dead", 50, timedelta(seconds=30), timedelta(seconds=2)))
        await stats.record(_execution("noop", "completed", 1, timedelta(0), timedelta(minutes=20)))  # outside
        await stats.record(
            {**_execution("noop", "processing", 1, timedelta(0), timedelta(0))}
        )  # not finished

        watcher = HealthWatcher(db, stats, timedelta(minutes=5))
        await watcher.refresh()
    finally:
        await redis.aclose()
    report = watcher.as_dict()

    a, b = report["imports"]
    assert (a["consecutiveFailures"], b["consecutiveFailures"]) == (2, 0)
    assert b["lastItems"] == {"fetched": 50, "new": 2, "updated": 3, "unchanged": 44, "failed": 1}
    assert a["lastSuccessAt"] < b["lastSuccessAt"]
    noop = report["tasks"]["byKind"]["noop"]
    assert noop["counts"] == {"completed": 10}  # neither the one 20 minutes ago nor the unfinished one
    assert noop["durationSeconds"]["p50"] == 0.55
    assert 0.95 <= noop["durationSeconds"]["p99"] <= 1.0
    assert 9 <= noop["latencySeconds"]["p99"] <= 10
    assert report["tasks"]["byKind"]["http"]["counts"] == {"dead": 2}

    text = generate_latest().decode()
    assert 'jobyard_import_consecutive_failures{feed="https://a.example/feed"} 2.0' in text
    assert 'jobyard_task_executions_recent{kind="http",status="dead"} 2.0' in text
    assert 'jobyard_import_last_items{feed="https://b.example/feed",result="new"} 2.0' in text

    # a feed's runs are read through the index, newest first, ten at most
    explained = await (
        db[IMPORT_LOGS]
        .find({"feedUrl": "https://a.example/feed"})
        .hint(PER_FEED_INDEX.name)
        .limit(10)
        .explain()
    )
    assert "IXSCAN" in _plan(explained["queryPlanner"]["winningPlan"])
