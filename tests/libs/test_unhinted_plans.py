"""Lists whose filter is one equality on their index's leading field name no index
(``jobyard_libs.mongo.hint_of``): each one's first page still walks an index led by that
field, and a page after a cursor (hinted again) walks an index, on whichever server the
suite runs (the Python lane runs it on secantusd-py, whose planner differs)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from bson import ObjectId
from jobyard_libs.imports import import_logs, jobs
from jobyard_libs.listing import Cursor, Sort, Window, walk
from jobyard_libs.mongo import IndexSpec, ensure_indexes, hint_of
from jobyard_libs.tasks import repository as tasks

from tests.support.plans import index_scan

LISTS = {  # (the index the listing walks, its collection's indexes, its sort, the equality it filters on)
    "a task's executions": (tasks.EXECUTION_LIST, tasks.INDEXES, tasks.NEWEST, {"taskId": ObjectId()}),
    "a user's dead letters": (tasks.DEAD_LETTER_FILTERS[0], tasks.INDEXES, tasks.NEWEST, {"ownerId": "u1"}),
    "one feed's jobs": (jobs.list_index({"feedUrl": "x"}), jobs.INDEXES, jobs.NEWEST, {"feedUrl": "x"}),
    "one feed's import logs": (
        import_logs.list_index({"feedUrl": "x"}),
        import_logs.INDEXES,
        import_logs.NEWEST,
        {"feedUrl": "x"},
    ),
}


@pytest.mark.parametrize(("index", "indexes", "sort", "query"), LISTS.values(), ids=LISTS.keys())
async def test_a_list_pinned_by_one_equality_walks_its_index_unhinted(
    db: Any, index: IndexSpec, indexes: list[IndexSpec], sort: Sort, query: dict[str, Any]
) -> None:
    collection = db[index.collection]
    # and learns, as production does, whether this server takes hints
    await ensure_indexes(db, [spec for spec in indexes if spec.collection == index.collection])
    [field] = query
    assert hint_of(query, index) is None  # the rule under test: no hint sent

    first = await walk(collection, query, sort, index, Window(limit=20)).explain()
    scan = index_scan(first["queryPlanner"]["winningPlan"])
    assert scan is not None, first
    assert next(iter(scan["keyPattern"])) == field, scan
    if "indexBounds" in scan:  # MongoDB and the Rust server say them; the Python server does not
        [bound] = scan["indexBounds"][field]
        assert "MinKey" not in bound and "MaxKey" not in bound, scan

    cursor = Cursor((datetime(2026, 1, 1, tzinfo=UTC), ObjectId()))
    after = await walk(collection, query, sort, index, Window(limit=20, cursor=cursor)).explain()
    assert index_scan(after["queryPlanner"]["winningPlan"]) is not None, after
