"""Keyset cursors: what a page hands out comes back as the same values; anything else is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from bson import ObjectId
from jobyard_libs.listing import BadCursor, Cursor, after

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "values",
    [
        (datetime(2026, 12, 1, 8, 30, 1, 123000, tzinfo=UTC), ObjectId("6b0f6569e4158ea2a181b4ca")),
        ("Senior engineer", 42, ObjectId("6b0f6569e4158ea2a181b4cb")),
        (1.5, None, True),
    ],
)
def test_a_cursor_comes_back_as_it_went_out(values: tuple[object, ...]) -> None:
    assert Cursor.decode(Cursor(values).encode()).values == values


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not base64!",
        "W10",  # []
        "e30",  # {}
        Cursor(("a", "b", "c", "d", "e")).encode(),  # too many values
        "W3siZCI6ICIyMDI2LTEyLTAxVDA4OjMwOjAxIn1d",  # a date without a zone
        "W3sibyI6ICJub3QtYW4taWQifV0",  # an id that is none
        "WzFlOTk5XQ",  # 1e999: not a finite number
        "WzE4NDQ2NzQ0MDczNzA5NTUxNjE2XQ",  # 2**64: more than BSON holds
    ],
)
def test_anything_else_is_refused_the_same_way(token: str) -> None:
    with pytest.raises(BadCursor):
        Cursor.decode(token)


def test_after_bounds_the_leading_key_and_breaks_ties_by_id() -> None:
    moment, oid = datetime(2026, 12, 1, tzinfo=UTC), ObjectId("6b0f6569e4158ea2a181b4ca")
    assert after([("createdAt", -1), ("_id", -1)], Cursor((moment, oid))) == {
        "createdAt": {"$lte": moment},
        "$or": [{"createdAt": {"$lt": moment}}, {"createdAt": moment, "_id": {"$lt": oid}}],
    }
