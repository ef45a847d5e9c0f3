"""At-least-once delivery of import batches: duplicates, crashes and dead batches."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from bson import ObjectId
from jobyard_libs.imports.documents import Posting, PostingUpdate
from jobyard_libs.imports.import_logs import UNWATCHED, ImportLogChanges, ImportLogRepository
from jobyard_libs.imports.jobs import JobRepository
from jobyard_libs.imports.models import ImportStatus, ImportTrigger
from jobyard_libs.queue.broker import create_broker
from jobyard_libs.queue.contracts import ActorName, ApplyBatchPayload
from jobyard_libs.queue.sender import enqueue
from jobyard_worker.settings import WorkerSettings

from tests.conftest import Isolation
from tests.support.imports import running_worker, settings_for, wait_finished
from tests.support.processes import bin_path, stop_gracefully
from tests.support.waiting import eventually


def _jobs(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "externalId": f"job-{i}",
            "title": f"Engineer {i}",
            "company": "Northwind Data",
            "publishedAt": "2026-11-23T08:00:00+00:00",
            "feedUrl": "https://feeds.example/a",
            "rawData": {},
        }
        for i in range(start, start + count)
    ]


async def _log(db: Any, batches: int) -> ObjectId:
    logs = ImportLogRepository(db, UNWATCHED)
    log_id, joined = await logs.create(
        feed_url="https://feeds.example/a", source_id=None, trigger=ImportTrigger.API, request_id=None
    )
    assert not joined
    await logs.change(
        log_id, ImportLogChanges(status=ImportStatus.PROCESSING, batches_total=batches, total_fetched=0)
    )
    return log_id


def _send(settings: WorkerSettings, payloads: list[ApplyBatchPayload]) -> None:
    broker = create_broker(settings)
    try:
        for payload in payloads:
            enqueue(broker, ActorName.IMPORT_APPLY_BATCH, payload)
    finally:
        broker.close()


async def test_a_batch_delivered_twice_counts_once(isolation: Isolation, db: Any) -> None:
    settings = settings_for(isolation)
    log_id = await _log(db, batches=2)
    first = ApplyBatchPayload(
        import_log_id=str(log_id), batch_id=f"{log_id}:0", feed_url="https://feeds.example/a", jobs=_jobs(3)
    )
    second = ApplyBatchPayload(
        import_log_id=str(log_id),
        batch_id=f"{log_id}:1",
        feed_url="https://feeds.example/a",
        jobs=_jobs(2, 3),
    )
    _send(settings, [first, first, second, first])
    with running_worker(settings):
        log = await wait_finished(db, log_id)
        await eventually(lambda: _queue_empty(settings), what="the queue to drain")
    log = await db.import_logs.find_one({"_id": log_id})
    assert log["status"] == "completed"
    assert (log["newJobs"], log["updatedJobs"], log["unchangedJobs"], log["totalImported"]) == (5, 0, 0, 5)
    assert log["batchesApplied"] == 2
    assert sorted(log["appliedBatchIds"]) == [f"{log_id}:0", f"{log_id}:1"]
    assert await db.jobs.count_documents({}) == 5


async def _queue_empty(settings: WorkerSettings) -> bool:
    from redis.asyncio import Redis

    redis = Redis.from_url(settings.redis_url)
    try:
        namespace = f"{settings.redis_key_prefix}dramatiq"
        return (
            int(await redis.llen(f"{namespace}:imports")) == 0
            and int(await redis.hlen(f"{namespace}:imports.msgs")) == 0
        )
    finally:
        await redis.aclose()


async def test_redelivery_after_a_crash_between_write_and_record_counts_exactly(
    isolation: Isolation, db: Any
) -> None:
    """The crashed delivery wrote 3 new postings and changed 1, then died before recording."""
    settings = settings_for(isolation)
    repo = JobRepository(db)
    feed = "https://feeds.example/a"
    # an earlier import stored job-0 in an older revision
    old = Posting.model_validate(_jobs(1)[0] | {"title": "Engineer 0 (old)", "publishedAt": None})
    await repo.write(feed, "older:0", inserts=[old], updates=[])
    log_id = await _log(db, batches=1)
    batch = ApplyBatchPayload(import_log_id=str(log_id), batch_id=f"{log_id}:0", feed_url=feed, jobs=_jobs(5))
    parsed = [Posting.model_validate(job) for job in batch.jobs]
    assert parsed[0].content_hash != old.content_hash
    await repo.write(
        feed,
        batch.batch_id,
        inserts=parsed[1:4],
        updates=[PostingUpdate(posting=parsed[0], old_hash=old.content_hash)],
    )
    _send(settings, [batch])
    with running_worker(settings):
        log = await wait_finished(db, log_id)
    assert (log["newJobs"], log["updatedJobs"], log["unchangedJobs"]) == (4, 1, 0)
    assert await db.jobs.count_documents({}) == 5


async def test_a_batch_that_exhausts_its_retries_fails_the_log(isolation: Isolation, db: Any) -> None:
    settings = settings_for(isolation, import_max_retries=2)
    log_id = await _log(db, batches=2)
    good = ApplyBatchPayload(
        import_log_id=str(log_id), batch_id=f"{log_id}:0", feed_url="https://feeds.example/a", jobs=_jobs(2)
    )
    poison = ApplyBatchPayload(
        import_log_id=str(log_id),
        batch_id=f"{log_id}:1",
        feed_url="https://feeds.example/a",
        # a number BSON cannot hold: every write of the batch fails, whichever worker tries
        jobs=[_jobs(1, 2)[0] | {"rawData": {"applicants": 2**64}}],
    )
    _send(settings, [good, poison])
    with running_worker(settings):
        log = await wait_finished(db, log_id)
    assert log["status"] == "failed"
    assert log["batchesApplied"] == 1
    assert log["batchesFailed"] == 1
    assert f"batch {log_id}:1 failed after retries" in log["error"]
    assert log["failedJobs"] == [{"id": "job-2", "reason": log["failedJobs"][0]["reason"]}]
    assert "OverflowError" in log["failedJobs"][0]["reason"]
    assert log["newJobs"] == 2


async def test_a_posting_that_does_not_fit_is_failed_alone(isolation: Isolation, db: Any) -> None:
    """A posting a batch message carries that is not a posting (a date that is none, no title)
    fails by itself, named with the field; the batch's others are stored and counted."""
    settings = settings_for(isolation)
    log_id = await _log(db, batches=1)
    jobs = _jobs(3)
    jobs[1] |= {"publishedAt": "the day after tomorrow"}
    del jobs[2]["title"]
    batch = ApplyBatchPayload(
        import_log_id=str(log_id), batch_id=f"{log_id}:0", feed_url="https://feeds.example/a", jobs=jobs
    )
    _send(settings, [batch])
    with running_worker(settings):
        log = await wait_finished(db, log_id)
    assert (log["status"], log["newJobs"], log["failedCount"]) == ("completed", 1, 2)
    reasons = {failed["id"]: failed["reason"] for failed in log["failedJobs"]}
    assert reasons.keys() == {"job-1", "job-2"}
    assert reasons["job-1"].startswith("publishedAt: ") and reasons["job-2"].startswith("title: ")
    assert [job["externalId"] async for job in db.jobs.find({})] == ["job-0"]


async def test_a_worker_killed_mid_batch_loses_nothing(isolation: Isolation, db: Any, tmp_path: Path) -> None:
    size = 1500
    env = {
        **os.environ,
        **isolation.env(),
        "JOBYARD_QUEUE_HEARTBEAT_TIMEOUT_MS": "2000",
        "JOBYARD_QUEUE_MAINTENANCE_CHANCE": "1000000",
        "JOBYARD_WORKER_THREADS": "1",
        "JOBYARD_LOG_LEVEL": "WARNING",
    }
    settings = settings_for(isolation)
    log_id = await _log(db, batches=1)
    batch = ApplyBatchPayload(
        import_log_id=str(log_id),
        batch_id=f"{log_id}:0",
        feed_url="https://feeds.example/a",
        jobs=_jobs(size),
    )
    _send(settings, [batch])

    def start(name: str) -> subprocess.Popen[bytes]:
        with (tmp_path / f"{name}.log").open("wb") as out:
            return subprocess.Popen(
                [bin_path("jobyard-worker")],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    first = start("first")
    try:
        await eventually(lambda: _some_written(db), within=60, what="the first worker to start writing")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    written_before = await db.jobs.count_documents({})
    log = await db.import_logs.find_one({"_id": log_id})
    assert log["batchesDone"] == 0, "the kill came too late to test a redelivery"

    second = start("second")
    try:
        log = await wait_finished(db, log_id, within=120)
    finally:
        stopped = stop_gracefully(second)
    assert stopped == 0
    assert log["status"] == "completed"
    assert log["newJobs"] == size, (written_before, log)
    assert log["totalImported"] == size
    assert await db.jobs.count_documents({}) == size


async def _some_written(db: Any) -> bool:
    return bool(await db.jobs.count_documents({}) > 0)


async def test_a_run_whose_runner_died_is_taken_over(isolation: Isolation, db: Any) -> None:
    from datetime import timedelta

    from jobyard_libs.mongo import utcnow

    logs = ImportLogRepository(db, UNWATCHED)
    log_id, _ = await logs.create(
        feed_url="https://feeds.example/a", source_id=None, trigger=ImportTrigger.API, request_id=None
    )
    assert await logs.start(log_id)
    assert not await logs.start(log_id)  # a redelivered run message while the first runs
    await logs.change(log_id, ImportLogChanges(started_at=utcnow() - timedelta(hours=1)))  # its runner died
    assert await logs.start(log_id)
