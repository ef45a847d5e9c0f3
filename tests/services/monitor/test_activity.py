"""Feed health and task stats: what the monitor reads, and that its cost does not grow with what is stored."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from jobyard_libs.imports.documents import ImportLog
from jobyard_libs.imports.import_logs import PER_FEED_INDEX, UNWATCHED, ImportLogRepository
from jobyard_libs.imports.models import ImportStatus
from jobyard_libs.mongo import ensure_indexes, utcnow
from jobyard_libs.monitoring import FeedItems
from jobyard_libs.redis_client import RedisKeys
from jobyard_libs.tasks.documents import Execution
from jobyard_libs.tasks.models import ExecutionStatus
from jobyard_libs.tasks.stats import TaskStats
from jobyard_monitor.activity import ActivityWatcher
from prometheus_client import generate_latest
from redis.asyncio import Redis

from tests.conftest import Isolation
from tests.support.factories import a_feed_source, a_task, an_execution, an_import_log, store
from tests.support.plans import index_scan


def _log(feed: str, status: ImportStatus, minutes_ago: int, **counts: int) -> ImportLog:
    at = utcnow() - timedelta(minutes=minutes_ago)
    return an_import_log(feed, status=status, timestamp=at, finished_at=at, **counts)


def _execution(
    kind: str, status: ExecutionStatus, duration_ms: int, waited: timedelta, finished_ago: timedelta
) -> Execution:
    done = utcnow() - finished_ago
    return an_execution(
        a_task(kind=kind),
        status=status,
        duration_ms=duration_ms,
        scheduled_for=done - waited,
        completed_at=done,
    )


async def test_feed_health_and_task_outcomes(db: Any, isolation: Isolation) -> None:
    await ensure_indexes(db, [PER_FEED_INDEX])
    await store(db, *(a_feed_source(u) for u in ("https://a.example/feed", "https://b.example/feed")))
    await store(
        db,
        _log("https://a.example/feed", ImportStatus.COMPLETED, 180, total_fetched=10, new_jobs=10),
        _log("https://a.example/feed", ImportStatus.FAILED, 120),
        _log("https://a.example/feed", ImportStatus.FAILED, 60),
        _log(
            "https://a.example/feed", ImportStatus.PROCESSING, 1
        ),  # still running: neither failure nor success
        _log(
            "https://b.example/feed",
            ImportStatus.COMPLETED,
            30,
            total_fetched=50,
            new_jobs=2,
            updated_jobs=3,
            unchanged_jobs=44,
            failed_count=1,
        ),
    )
    redis = Redis.from_url(isolation.redis_url)
    stats = TaskStats(redis, RedisKeys(isolation.key_prefix))
    try:
        for i in range(10):
            await stats.record(
                _execution(
                    "noop", ExecutionStatus.COMPLETED, 100 * (i + 1), timedelta(seconds=i + 1), timedelta(0)
                )
            )
        for _ in range(2):
            await stats.record(
                _execution("http", ExecutionStatus.DEAD, 50, timedelta(seconds=30), timedelta(seconds=2))
            )
        outside = _execution("noop", ExecutionStatus.COMPLETED, 1, timedelta(0), timedelta(minutes=20))
        await stats.record(outside)
        await stats.record(
            _execution("noop", ExecutionStatus.PROCESSING, 1, timedelta(0), timedelta(0))
        )  # unfinished

        watcher = ActivityWatcher(db, stats, timedelta(minutes=5))
        await watcher.refresh()
        # the counters-only read agrees, and leaves out what the window does not hold
        assert await stats.count("noop", "completed", timedelta(minutes=5)) == 10
        assert await stats.count("noop", "completed", timedelta(hours=1)) == 11
        assert await stats.count("http", "dead", timedelta(minutes=5)) == 2
    finally:
        await redis.aclose()
    a, b = watcher.feeds_reply()
    assert (a.consecutive_failures, b.consecutive_failures) == (2, 0)
    assert b.last_items == FeedItems(fetched=50, new=2, updated=3, unchanged=44, failed=1)
    assert a.last_success_at and b.last_success_at and a.last_success_at < b.last_success_at
    tasks = watcher.tasks.reply()
    noop = tasks.by_kind["noop"]
    assert noop.counts == {"completed": 10}  # neither the one 20 minutes ago nor the unfinished one
    assert noop.duration_seconds["p50"] == 0.55
    assert 0.95 <= noop.duration_seconds["p99"] <= 1.0
    assert 9 <= noop.latency_seconds["p99"] <= 10
    assert tasks.by_kind["http"].counts == {"dead": 2}
    assert tasks.outcomes() == {"completed": 10, "dead": 2}

    text = generate_latest().decode()
    assert 'jobyard_import_consecutive_failures{feed="https://a.example/feed"} 2.0' in text
    assert 'jobyard_task_executions_recent{kind="http",status="dead"} 2.0' in text
    assert 'jobyard_import_last_items{feed="https://b.example/feed",result="new"} 2.0' in text

    # a feed's runs are read through the feed + newest index, bounded to that one feed: the
    # very walk the watcher reads, unhinted (the planner picks that index on every server)
    walk = ImportLogRepository(db, UNWATCHED).latest_cursor("https://a.example/feed", 10)
    scan = index_scan(explained := (await walk.explain())["queryPlanner"]["winningPlan"])
    assert scan is not None, explained
    assert next(iter(scan["keyPattern"])) == "feedUrl", scan
    if "indexBounds" in scan:  # MongoDB and the Rust server say them; the Python server does not
        [bound] = scan["indexBounds"]["feedUrl"]
        assert "https://a.example/feed" in bound and "MinKey" not in bound and "MaxKey" not in bound, scan
