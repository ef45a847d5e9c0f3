"""The hourly import end to end: scheduler → imports queue → real worker → MongoDB."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from jobyard_libs.app import open_resources
from jobyard_libs.documents import Oid
from jobyard_libs.imports.feed_sources import FeedSourceRepository
from jobyard_libs.imports.import_logs import UNWATCHED, ParseRecord
from jobyard_libs.imports.models import ImportTrigger
from jobyard_libs.imports.pipeline import ImportRunner
from jobyard_libs.imports.raw_feeds import RawFeedRepository
from jobyard_libs.indexes import SHARED_INDEXES
from jobyard_libs.queue.broker import create_broker
from jobyard_libs.queue.contracts import Queue
from jobyard_scheduler.imports.command import UnknownFeed, run_import
from jobyard_scheduler.settings import SchedulerSettings
from jobyard_worker.settings import WorkerSettings

from tests.conftest import Isolation
from tests.support.feed_factory import feed_bytes
from tests.support.feed_factory import item as feed_factory_item
from tests.support.feed_server import FIXTURES, FeedServer
from tests.support.imports import running_worker, settings_for, wait_finished
from tests.support.waiting import eventually


@pytest.fixture
def worker(isolation: Isolation) -> Iterator[None]:
    with running_worker(settings_for(isolation, WorkerSettings)):
        yield


async def _import(isolation: Isolation, db: Any, urls: list[str], **overrides: Any) -> list[dict[str, Any]]:
    settings: SchedulerSettings = settings_for(isolation, SchedulerSettings, feeds=urls, **overrides)
    summary = await run_import(settings)
    return [await wait_finished(db, i["importLogId"]) for i in summary["imports"]]


def _by_url(logs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {log["feedUrl"]: log for log in logs}


async def test_three_formats_give_the_right_counts(
    isolation: Isolation, db: Any, feeds: FeedServer, worker: None
) -> None:
    urls = [feeds.serve(f"/{n}", fixture=n) for n in ("jobicy.xml", "higheredjobs.xml", "atom.xml")]
    logs = _by_url(await _import(isolation, db, urls))
    expected = {"jobicy.xml": (6, 5, 1), "higheredjobs.xml": (5, 4, 1), "atom.xml": (4, 3, 1)}
    for name, (fetched, imported, failed) in expected.items():
        log = logs[f"{feeds.base_url}/{name}"]
        assert log["status"] == "completed", log
        assert (log["totalFetched"], log["totalImported"], log["failedCount"]) == (fetched, imported, failed)
        assert (log["newJobs"], log["updatedJobs"], log["unchangedJobs"]) == (imported, 0, 0)
        assert log["failedJobs"][0]["reason"] == "missing title"
        assert log["batchesApplied"] == log["batchesTotal"] == -(-imported // 2)  # batch size 2
        assert log["trigger"] == "schedule"
    assert await db.jobs.count_documents({}) == 12
    job = await db.jobs.find_one({"title": "Senior Backend Engineer (Python)"})
    assert job["company"] == "Northwind Data"
    assert job["createdAt"] == job["updatedAt"]
    assert "senior" in job["titleWords"]


async def test_reimport_unchanged_then_one_edit(
    isolation: Isolation, db: Any, feeds: FeedServer, worker: None
) -> None:
    url = feeds.serve("/big", feed_bytes(9))
    first = (await _import(isolation, db, [url]))[0]
    assert (first["newJobs"], first["updatedJobs"]) == (9, 0)
    before = await db.jobs.find_one({"externalId": "https://jobs.example/?p=3"})

    second = (await _import(isolation, db, [url]))[0]
    assert (second["newJobs"], second["updatedJobs"], second["unchangedJobs"]) == (0, 0, 9)
    assert second["totalImported"] == 9
    assert (await db.jobs.find_one({"externalId": "https://jobs.example/?p=3"}))["updatedAt"] == before[
        "updatedAt"
    ]

    feeds.serve("/big", feed_bytes(9, edited=frozenset({3})))
    third = (await _import(isolation, db, [url]))[0]
    assert (third["newJobs"], third["updatedJobs"], third["unchangedJobs"]) == (0, 1, 8)
    after = await db.jobs.find_one({"externalId": "https://jobs.example/?p=3"})
    assert after["title"] == "Engineer 3 (rev 1)"
    assert after["updatedAt"] > before["updatedAt"]
    assert after["createdAt"] == before["createdAt"]
    assert await db.jobs.count_documents({}) == 9


async def test_304_records_not_modified_and_queues_nothing(
    isolation: Isolation, db: Any, feeds: FeedServer, worker: None
) -> None:
    url = feeds.serve(
        "/etag", fixture="atom.xml", etag='"abc"', last_modified="Mon, 23 Nov 2026 09:00:00 GMT"
    )
    await _import(isolation, db, [url])

    async def validators_recorded() -> bool:
        # the batch that completes the log tells its feed right after: a moment later
        source = await FeedSourceRepository(db).by_url(url)
        return source is not None and source.etag == '"abc"'

    await eventually(validators_recorded, within=10, what="the feed's validators")
    again = (await _import(isolation, db, [url]))[0]
    assert again["status"] == "not_modified"
    assert again["batchesTotal"] is None
    assert again["totalFetched"] == 0
    assert feeds.conditional_hits["/etag"] == 1
    assert await db.jobs.count_documents({}) == 3


@pytest.mark.parametrize(
    ("fixture", "error"),
    [
        ("billion_laughs.xml", "refused hostile XML: the document declares the entity 'lol'"),
        ("xxe.xml", "refused hostile XML: the document declares the entity 'secret'"),
        ("not_a_feed.html", "not an RSS or Atom feed"),
    ],
)
async def test_bad_feeds_fail_their_log_only(
    isolation: Isolation, db: Any, feeds: FeedServer, worker: None, fixture: str, error: str
) -> None:
    bad = feeds.serve("/bad", fixture=fixture)
    good = feeds.serve("/good", fixture="atom.xml")
    logs = _by_url(await _import(isolation, db, [bad, good]))
    assert logs[bad]["status"] == "failed"
    assert error in logs[bad]["error"]
    assert logs[good]["status"] == "completed"
    assert await db.jobs.count_documents({"feedUrl": bad}) == 0
    failed = await FeedSourceRepository(db).by_url(bad)
    assert failed is not None and failed.last_status == "failed"


async def test_http_errors_and_truncated_documents(
    isolation: Isolation, db: Any, feeds: FeedServer, worker: None
) -> None:
    missing = feeds.base_url + "/gone"
    truncated = feeds.serve("/cut", fixture="truncated.xml")
    logs = _by_url(await _import(isolation, db, [missing, truncated], import_batch_size=1))
    assert logs[missing]["status"] == "failed"
    assert "HTTP 404" in logs[missing]["error"]
    cut = logs[truncated]
    assert cut["status"] == "failed"
    assert "malformed XML" in cut["error"]
    assert "1 batches queued" in cut["error"]
    assert await db.jobs.count_documents({"feedUrl": truncated}) == 1  # what came before the break


async def test_raw_feed_is_kept(isolation: Isolation, db: Any, feeds: FeedServer, worker: None) -> None:
    url = feeds.serve("/raw", fixture="jobicy.xml")
    log = (await _import(isolation, db, [url]))[0]
    assert await RawFeedRepository(db).load(log["_id"]) == (FIXTURES / "jobicy.xml").read_bytes()
    indexes = await db.raw_feeds.index_information()
    assert indexes["fetchedAt_1"]["expireAfterSeconds"] == 7 * 24 * 3600


async def test_unknown_feed_is_refused(isolation: Isolation, feeds: FeedServer) -> None:
    settings: SchedulerSettings = settings_for(isolation, SchedulerSettings)
    with pytest.raises(UnknownFeed, match="not a feed source"):
        await run_import(settings, [feeds.base_url + "/never-added"])


class RunnerAfterItsBatches(ImportRunner):
    """The runner, made to write what its parse found only once every batch it queued was
    applied: the order in which a runner's final write used to lose the batches' failures."""

    async def record_parse(self, log_id: Oid, parse: ParseRecord) -> None:
        await asyncio.to_thread(self.broker.join, Queue.IMPORTS.value, timeout=30_000)
        assert await self.logs.get(log_id) is not None
        await super().record_parse(log_id, parse)


async def test_counts_are_exact_when_batches_finish_before_the_runners_write(
    isolation: Isolation, db: Any, feeds: FeedServer, worker: None
) -> None:
    """One writer per counter: the parse's failures (an item without a title) and a batch's
    (a posting twice in one batch) both land, whichever writes first."""
    duplicate = feed_factory_item(1)
    untitled = b"<item><guid>no-title</guid><description>nothing</description></item>\n"
    body = feed_bytes(4).replace(b"</channel>", duplicate + untitled + b"</channel>")
    url = feeds.serve("/mixed.xml", body)
    settings: SchedulerSettings = settings_for(isolation, SchedulerSettings, feeds=[url], import_batch_size=5)
    broker = create_broker(settings)
    try:
        async with open_resources(settings, SHARED_INDEXES) as resources:
            runner = RunnerAfterItsBatches(resources.db, broker, settings, on_change=UNWATCHED)
            await runner.sources.seed_once(settings.feeds)
            [outcome] = await runner.run_sources(await runner.sources.enabled(), ImportTrigger.SCHEDULE)
    finally:
        broker.close()
    log = await wait_finished(db, outcome.import_log_id)
    assert log["status"] == "completed"
    assert (
        log["totalFetched"] == 6 and log["batchesTotal"] == 1
    )  # 5 postings in one batch, 1 refused by the parser
    assert (log["newJobs"], log["failedCount"]) == (4, 2)
    reasons = sorted(f["reason"] for f in log["failedJobs"])
    assert reasons == ["duplicate externalId in this feed", "missing title"]
