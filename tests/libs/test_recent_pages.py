"""Newest-first lists looked for in the latest spans first: the same pages and totals as a
plain walk, whatever the spread of the dates (on whichever server runs the suite)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from jobyard_libs.documents import StoredDocument
from jobyard_libs.listing import Cursor, Window, paginate
from jobyard_libs.mongo import IndexSpec, utcnow

NEWEST = [("createdAt", -1), ("_id", -1)]


class Stamped(StoredDocument):
    created_at: datetime
    group: str


async def test_pages_found_span_by_span_are_those_of_a_plain_walk(db: Any) -> None:
    collection = db.recent_probe
    newest = IndexSpec("recent_probe", NEWEST)
    await collection.create_indexes([newest.model()])
    now = utcnow()
    ages = (
        [timedelta(hours=-1)]  # ahead of the clock (another host's): still first
        + [timedelta(seconds=s) for s in range(5)]  # the last minute
        + [timedelta(hours=2, seconds=s) for s in range(40)]
        + [timedelta(days=10, seconds=s) for s in range(30)]
        + [timedelta(days=40, seconds=s) for s in range(20)]  # older than every span
    )
    docs = [Stamped(created_at=now - age, group="a" if i % 3 else "b") for i, age in enumerate(ages)]
    await collection.insert_many([d.to_mongo() for d in docs])
    newest_first = [d.id for d in sorted(docs, key=lambda d: (d.created_at, d.id), reverse=True)]

    async def page(query: dict[str, Any], window: Window) -> Any:
        return await paginate(collection, query, NEWEST, newest, window, Stamped, recent="createdAt")

    seen, cursor = [], None
    while True:
        found = await page({}, Window(limit=20, cursor=Cursor.decode(cursor) if cursor else None))
        assert (found.total, found.total_capped) == (len(docs), False)  # counted past every span
        seen += [item.id for item in found.items]
        cursor = found.next_cursor
        if cursor is None:
            break
    assert seen == newest_first

    by_offset = await page({}, Window(limit=20, skip=40))
    assert [item.id for item in by_offset.items] == newest_first[40:60]

    only_b = await page({"group": "b"}, Window(limit=10))
    expected_b = [d for d in newest_first if next(x for x in docs if x.id == d).group == "b"]
    assert [item.id for item in only_b.items] == expected_b[:10]
    assert only_b.total == len(expected_b)
