"""Feed health tells the truth: a feed that turns bad is failing, stays failing while its
server would answer 304 to the broken answer's ETag, and is healthy again only after a
real parse succeeds (issue 24). Real imports: feed server → scheduler's import → worker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from jobyard_libs.imports.feed_sources import FeedSourceRepository
from jobyard_libs.mongo import utcnow
from jobyard_libs.redis_client import RedisKeys
from jobyard_libs.tasks.stats import TaskStats
from jobyard_monitor.activity import ActivityWatcher, FeedHealth
from jobyard_scheduler.imports.command import run_import
from jobyard_scheduler.settings import SchedulerSettings
from jobyard_worker.settings import WorkerSettings
from redis.asyncio import Redis

from tests.conftest import Isolation
from tests.support.feed_factory import feed_bytes
from tests.support.feed_server import FIXTURES, FeedServer
from tests.support.imports import running_worker, settings_for, wait_finished
from tests.support.waiting import eventually

GOOD = feed_bytes(3)
BROKEN = (FIXTURES / "truncated.xml").read_bytes()[:200]  # not even a first item: nothing to apply


@pytest.fixture
def worker(isolation: Isolation) -> Iterator[None]:
    with running_worker(settings_for(isolation, WorkerSettings)):
        yield


@pytest.fixture
async def watcher(db: Any, isolation: Isolation) -> AsyncIterator[ActivityWatcher]:
    redis = Redis.from_url(isolation.redis_url)
    yield ActivityWatcher(db, TaskStats(redis, RedisKeys(isolation.key_prefix)), timedelta(minutes=5))
    await redis.aclose()


async def _run(isolation: Isolation, db: Any, url: str, expect_etag: str | None = None) -> str:
    settings: SchedulerSettings = settings_for(isolation, SchedulerSettings)
    summary = await run_import(settings, [url])
    finished = await wait_finished(db, summary["imports"][0]["importLogId"])

    async def source_told() -> bool:  # the one who finished the import tells the feed right after
        source = await FeedSourceRepository(db).by_url(url)
        return (
            source is not None
            and source.last_import_log_id == finished["_id"]
            and source.last_status == finished["status"]
        )

    await eventually(source_told, what="the feed source to record its run")
    if expect_etag is not None:
        source = await FeedSourceRepository(db).by_url(url)
        assert source is not None and source.etag == expect_etag
    return str(finished["status"])


async def _health(watcher: ActivityWatcher, url: str) -> FeedHealth:
    return next(f for f in await watcher.feed_health() if f.feed == url)


async def test_a_feed_that_turns_bad_stays_failing_behind_304s_and_recovers(
    isolation: Isolation, db: Any, feeds: FeedServer, worker: None, watcher: ActivityWatcher
) -> None:
    url = feeds.serve("/feed.xml", GOOD, etag='"v1"')
    idle = feeds.serve("/idle.xml", GOOD)
    await FeedSourceRepository(db).seed_once([url, idle])
    assert (await _health(watcher, idle)).state == "never_parsed"

    assert await _run(isolation, db, url, expect_etag='"v1"') == "completed"
    assert (await _health(watcher, url)).state == "healthy"

    feeds.serve("/feed.xml", BROKEN, etag='"v2"')  # the feed breaks; its server would 304 on "v2"
    assert (
        await _run(isolation, db, url, expect_etag='"v1"') == "failed"
    )  # the broken answer's ETag is not kept
    asked = feeds.conditional_hits["/feed.xml"]
    assert (
        await _run(isolation, db, url, expect_etag='"v1"') == "failed"
    )  # parsed for real, not "not modified"
    assert feeds.conditional_hits["/feed.xml"] == asked  # after a failure the fetch is unconditional
    failing = await _health(watcher, url)
    assert (failing.state, failing.consecutive_failures) == ("failing", 2)

    feeds.serve("/feed.xml", GOOD, etag='"v3"')  # fixed
    assert await _run(isolation, db, url, expect_etag='"v3"') == "completed"
    recovered = await _health(watcher, url)
    assert (recovered.state, recovered.consecutive_failures) == ("healthy", 0)
    success = recovered.last_success_at
    assert await _run(isolation, db, url, expect_etag='"v3"') == "not_modified"
    unchanged = await _health(watcher, url)
    assert (unchanged.state, unchanged.last_success_at) == ("healthy", success)  # a 304 is not a success

    watcher.stale_after = timedelta(seconds=0)
    assert (await _health(watcher, url)).state == "stale"
    assert unchanged.last_checked_at is not None and unchanged.last_checked_at <= utcnow()
