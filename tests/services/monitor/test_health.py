"""Feed health and task stats: what the monitor reads from MongoDB, and what it costs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bson import ObjectId
from jobyard_libs.imports.import_logs import COLLECTION as IMPORT_LOGS
from jobyard_libs.imports.import_logs import PER_FEED_INDEX
from jobyard_libs.mongo import ensure_indexes, utcnow
from jobyard_libs.tasks.repository import EXECUTIONS, FINISHED_INDEX
from jobyard_monitor.health import HealthWatcher
from prometheus_client import generate_latest

OLD_EXECUTIONS = 20_000  # stored but outside the window: a refresh must not read them


def _log(feed: str, status: str, minutes_ago: int, **counts: int) -> dict[str, Any]:
    at = utcnow() - timedelta(minutes=minutes_ago)
    return {"feedUrl": feed, "status": status, "timestamp": at, "finishedAt": at, **counts}


def _plan(stage: dict[str, Any]) -> list[str]:
    return [stage["stage"], *(_plan(stage["inputStage"]) if "inputStage" in stage else [])]


async def test_feed_health_and_task_stats(db: Any) -> None:
    await ensure_indexes(db, [PER_FEED_INDEX, FINISHED_INDEX])
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
    now = utcnow()
    recent = [
        {"taskId": ObjectId(), "kind": "noop", "status": "completed", "durationMs": 100 * (i + 1),
         "scheduledFor": now - timedelta(seconds=i + 1), "completedAt": now - timedelta(seconds=1)}
        for i in range(10)
    ] + [
        {"taskId": ObjectId(), "kind": "http", "status": "dead", "durationMs": 50,
         "scheduledFor": now - timedelta(seconds=30), "completedAt": now - timedelta(seconds=2)}
        for _ in range(2)
    ]  # fmt: skip
    old = now - timedelta(days=2)
    await db[EXECUTIONS].insert_many(
        [
            {
                "taskId": ObjectId(),
                "kind": "noop",
                "status": "completed",
                "durationMs": 1,
                "scheduledFor": old,
                "completedAt": old,
            }
            for _ in range(OLD_EXECUTIONS)
        ]
    )
    await db[EXECUTIONS].insert_many(recent)

    watcher = HealthWatcher(db, timedelta(minutes=5))
    await watcher.refresh()
    stats = watcher.as_dict()

    a, b = stats["imports"]
    assert (a["consecutiveFailures"], b["consecutiveFailures"]) == (2, 0)
    assert b["lastItems"] == {"fetched": 50, "new": 2, "updated": 3, "unchanged": 44, "failed": 1}
    assert a["lastSuccessAt"] < b["lastSuccessAt"]
    noop = stats["tasks"]["byKind"]["noop"]
    assert noop["counts"] == {"completed": 10}  # the 20,000 old ones are outside the window
    assert noop["durationSeconds"]["p50"] == 0.55
    assert 0.95 <= noop["durationSeconds"]["p99"] <= 1.0
    assert stats["tasks"]["byKind"]["http"]["counts"] == {"dead": 2}

    text = generate_latest().decode()
    assert 'jobyard_import_consecutive_failures{feed="https://a.example/feed"} 2.0' in text
    assert 'jobyard_task_executions_recent{kind="http",status="dead"} 2.0' in text
    assert 'jobyard_import_last_items{feed="https://b.example/feed",result="new"} 2.0' in text

    # bounded reads through indexes, however much is stored
    since = now - timedelta(minutes=5)
    explained = (
        await db[EXECUTIONS].find({"completedAt": {"$gte": since}}).hint(FINISHED_INDEX.name).explain()
    )
    assert "IXSCAN" in _plan(explained["queryPlanner"]["winningPlan"])
    assert explained["executionStats"]["totalDocsExamined"] <= len(recent)
    explained = await (
        db[IMPORT_LOGS]
        .find({"feedUrl": "https://a.example/feed"})
        .hint(PER_FEED_INDEX.name)
        .limit(10)
        .explain()
    )
    assert "IXSCAN" in _plan(explained["queryPlanner"]["winningPlan"])
