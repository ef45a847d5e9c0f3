"""``update_by_id`` and the conditions written for it, against the real server of the run."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from jobyard_libs.mongo import update_by_id


async def test_update_by_id_writes_only_when_the_condition_holds(db: Any) -> None:
    items = db["items"]
    first, other = ObjectId(), ObjectId()
    await items.insert_many(
        [{"_id": first, "status": "pending", "n": 0}, {"_id": other, "status": "pending", "n": 0}]
    )
    claimed = await update_by_id(
        items,
        first,
        {"$set": {"status": "running"}, "$inc": {"n": 1}},
        expect={"status": {"$in": ["pending", "retrying"]}},
    )
    assert claimed == {"_id": first, "status": "running", "n": 1}  # the document as the update left it
    again = await update_by_id(items, first, {"$inc": {"n": 1}}, expect={"status": "pending"})
    assert again is None  # the condition no longer holds: nothing written
    assert await items.find_one({"_id": first}) == claimed
    assert await items.find_one({"_id": other}) == {"_id": other, "status": "pending", "n": 0}
    assert await update_by_id(items, ObjectId(), {"$set": {"n": 5}}) is None
    assert await items.count_documents({}) == 2  # no upsert


async def test_update_by_id_takes_an_update_pipeline(db: Any) -> None:
    items = db["items"]
    oid = ObjectId()
    await items.insert_one({"_id": oid, "startedAt": None, "attempts": 2})
    updated = await update_by_id(
        items,
        oid,
        [{"$set": {"startedAt": {"$ifNull": ["$startedAt", "now"]}, "attempts": {"$add": ["$attempts", 1]}}}],
    )
    assert updated == {"_id": oid, "startedAt": "now", "attempts": 3}


async def test_a_fence_condition_admits_none_missing_older_and_equal_but_not_newer(db: Any) -> None:
    """The scheduler's claim: ``{"fence": {"$not": {"$gt": f}}}`` (it was an ``$or``)."""
    items = db["fenced"]
    await items.insert_many(
        [
            {"_id": "none", "fence": None},
            {"_id": "missing"},
            {"_id": "older", "fence": 3},
            {"_id": "equal", "fence": 5},
            {"_id": "newer", "fence": 7},
        ]
    )
    admitted = [doc["_id"] async for doc in items.find({"fence": {"$not": {"$gt": 5}}}).sort("_id", 1)]
    assert admitted == ["equal", "missing", "none", "older"]
