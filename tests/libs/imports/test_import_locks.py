"""One import per feed at a time, held by a lock document that is only inserted and deleted:
a feed imports again after each run ends, on every MongoDB-wire server (docs/testing.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bson import ObjectId
from jobyard_libs.imports.import_logs import LOCKS, ORPHAN_LOCK, UNWATCHED, ImportLogRepository
from jobyard_libs.imports.models import ImportStatus, ImportTrigger
from jobyard_libs.mongo import utcnow

URL = "https://feeds.example/jobs.xml"


async def start(logs: ImportLogRepository) -> tuple[ObjectId, bool]:
    return await logs.create(feed_url=URL, source_id=None, trigger=ImportTrigger.API, request_id=None)


async def test_a_feed_imports_again_after_each_run_ends(db: Any) -> None:
    logs = ImportLogRepository(db, UNWATCHED)
    seen = set()
    for status in (ImportStatus.COMPLETED, ImportStatus.FAILED, ImportStatus.COMPLETED):
        log_id, joined = await start(logs)
        assert joined is False and log_id not in seen
        assert await start(logs) == (log_id, True)  # while it runs, a second start joins it
        seen.add(log_id)
        await logs.finish(log_id, status)
        assert await db[LOCKS].count_documents({}) == 0  # the end gave the feed back
    assert await db.import_logs.count_documents({"feedUrl": URL}) == 3


async def test_a_lock_left_by_a_crash_is_freed_by_the_next_start(db: Any) -> None:
    logs = ImportLogRepository(db, UNWATCHED)
    # the creator died between the lock and its log: joined while it may still come, then freed
    ghost = ObjectId()
    await db[LOCKS].insert_one({"_id": URL, "logId": ghost, "at": utcnow()})
    assert await start(logs) == (ghost, True)
    await db[LOCKS].update_one({"_id": URL}, {"$set": {"at": utcnow() - ORPHAN_LOCK - timedelta(seconds=1)}})
    log_id, joined = await start(logs)
    assert joined is False and log_id != ghost

    # the run finished but its release was lost: the next start does not join a finished run
    await db.import_logs.update_one({"_id": log_id}, {"$set": {"status": ImportStatus.COMPLETED.value}})
    again, joined = await start(logs)
    assert joined is False and again != log_id
    assert await db[LOCKS].find_one({"_id": URL}, {"_id": 0, "logId": 1}) == {"logId": again}


async def test_running_imports_of_the_old_design_keep_their_feed_through_the_migration(db: Any) -> None:
    """Versions before the lock marked a running log with a unique ``activeFeedUrl``."""
    old = ObjectId()
    await db.import_logs.create_index(
        "activeFeedUrl", unique=True, partialFilterExpression={"activeFeedUrl": {"$type": "string"}}
    )
    await db.import_logs.insert_one(
        {
            "_id": old,
            "feedUrl": URL,
            "fileName": URL,
            "trigger": "api",
            "status": "processing",
            "activeFeedUrl": URL,
            "progressAt": utcnow(),
            "timestamp": utcnow(),
        }
    )
    logs = ImportLogRepository(db, UNWATCHED)
    assert await logs.lock_running_imports() == 1
    assert await start(logs) == (old, True)  # it still runs: a new start joins it
    assert "activeFeedUrl_1" not in await db.import_logs.index_information()
    assert await db.import_logs.count_documents({"activeFeedUrl": {"$exists": True}}) == 0
    await logs.finish(old, ImportStatus.COMPLETED)
    assert (await start(logs))[1] is False
