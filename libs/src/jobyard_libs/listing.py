"""One way to page through a collection: keyset cursors, small offsets, a capped total.

Every list the API serves is sorted on an index (newest first: a date, then ``_id``). A
page is one walk of that index from where the previous page ended: the response's
``nextCursor`` holds the sort key of its last item, and the next page's query starts
strictly after it. Its cost is the page's size, however deep it is, on MongoDB (the
embedded server sorts every match first; see docs/performance.md).

``page``/``limit`` offsets stay for the first pages (``MAX_OFFSET`` items deep). The total
is counted up to ``TOTAL_CAP`` (``totalCapped`` says when there are more), or exactly when
asked (``?total=exact``), so a page never costs a count of the whole collection.

A list of what keeps arriving (executions, newest first) may name its date field as
``recent``: the page is then looked for in the last minute before where it starts, then
8, 64, … minutes (``RECENT_SPANS``), then everywhere; the first span that holds a whole
page holds the right one, since everything outside it is older. The capped total is
counted the same way. MongoDB answers either shape in O(page); the SecantusDB servers walk
every match before applying a limit, so there the span bounds the walk. (The total is
one capped count: bounded by a date range, the Rust server counts slower than over all.)

Usage
-----

::

    window = Window(limit=20, cursor=Cursor.decode(token))
    page = await paginate(collection, {"ownerId": "u1"}, NEWEST, OWNER_INDEX, window, Task)  # an IndexSpec
    page.next_cursor  # the opaque token of the next page, or None at the end
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.cursor import AsyncCursor

from jobyard_libs.documents import StoredDocument
from jobyard_libs.errors import ValidationFailed
from jobyard_libs.mongo import IndexSpec, hint_of, hint_option, utcnow

T = TypeVar("T", bound=StoredDocument)
Sort = Sequence[tuple[str, int]]
TOTAL_CAP = 10_000
RECENT_SPANS = tuple(timedelta(minutes=8**k) for k in range(6))  # 1 min … 22 days, then all
MAX_CURSOR_VALUES = 4
MAX_OFFSET = 10_000


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the sort key of its last item (opaque to clients)."""

    values: tuple[Any, ...]

    def encode(self) -> str:
        def plain(value: Any) -> Any:
            if isinstance(value, datetime):
                return {"d": value.isoformat()}
            if isinstance(value, ObjectId):
                return {"o": str(value)}
            return value

        raw = json.dumps([plain(v) for v in self.values], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """The cursor ``token`` encodes; :class:`BadCursor` for anything else, whatever it is."""
        try:
            raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            if not isinstance(raw, list) or not 0 < len(raw) <= MAX_CURSOR_VALUES:
                raise BadCursor("not a cursor")
            return cls(tuple(_typed(v) for v in raw))
        except Exception as exc:  # malformed base64, JSON, dates, ids, numbers: all the same 422
            raise BadCursor("not a cursor from this API") from exc


def _typed(value: Any) -> Any:
    if isinstance(value, dict) and value.keys() == {"d"} and isinstance(value["d"], str):
        moment = datetime.fromisoformat(value["d"])
        if moment.tzinfo is None:
            raise BadCursor("not a cursor from this API")
        return moment
    if isinstance(value, dict) and value.keys() == {"o"} and isinstance(value["o"], str):
        return ObjectId(value["o"])
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and -(2**63) <= value < 2**63:  # what BSON can hold
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise BadCursor("not a cursor from this API")


@dataclass(frozen=True)
class Window:
    """What a caller asked for: ``limit`` items from ``cursor`` (or ``skip`` for small offsets)."""

    limit: int
    skip: int = 0
    cursor: Cursor | None = None
    exact_total: bool = False


@dataclass
class Slice(Generic[T]):
    items: list[T]
    total: int
    total_capped: bool
    next_cursor: str | None


def _fits(cursor: Cursor, sort: Sort) -> bool:
    """A cursor of this listing: one value per sort key, and an id where ``_id`` is."""
    if len(cursor.values) != len(sort):
        return False
    keyed = zip(sort, cursor.values, strict=True)
    return all(isinstance(value, ObjectId) for (field, _), value in keyed if field == "_id")


def after(sort: Sort, cursor: Cursor) -> dict[str, Any]:
    """The filter of everything strictly after ``cursor`` in ``sort`` order.

    Written as a range on the leading key (which the index walk can bound) plus the
    tie-breaks, not as a top-level ``$or`` alone: a planner can seek the first key.
    """
    if len(cursor.values) != len(sort):
        raise BadCursor("this cursor belongs to another listing")
    (lead, lead_dir), lead_value = sort[0], cursor.values[0]
    bound = "$lte" if lead_dir < 0 else "$gte"
    branches: list[dict[str, Any]] = []
    for depth in range(len(sort)):
        branch = {field: cursor.values[i] for i, (field, _) in enumerate(sort[:depth])}
        field, direction = sort[depth]
        branch[field] = {"$lt" if direction < 0 else "$gt": cursor.values[depth]}
        branches.append(branch)
    return {lead: {bound: lead_value}, "$or": branches}


def walk(
    collection: AsyncCollection[dict[str, Any]],
    query: dict[str, Any],
    sort: Sort,
    index: IndexSpec | None,
    window: Window,
    *,
    projection: dict[str, int] | None = None,
) -> AsyncCursor[dict[str, Any]]:
    """The cursor a page reads: one item past the page, to tell whether another follows."""
    bounded = dict(query)
    if window.cursor is not None:
        bounded = {"$and": [query, after(sort, window.cursor)]} if query else after(sort, window.cursor)
    cursor = collection.find(bounded, projection).sort(list(sort)).hint(hint_of(bounded, index))
    if window.cursor is None and window.skip:
        cursor = cursor.skip(window.skip)
    return cursor.limit(window.limit + 1)


def _since(
    query: dict[str, Any], field: str | None, start: datetime, span: timedelta | None
) -> dict[str, Any]:
    """``query`` within ``span`` before ``start`` (and anything later), or whole.

    The bound joins the query's own fields where it can: the SecantusDB Rust server plans
    ``{"$and": [{}, range]}`` as a walk of every document (120 ms at 100,000), the bare range
    through the index (3 ms)."""
    if field is None or span is None:
        return query
    bound = {field: {"$gte": start - span}}
    return {**query, **bound} if field not in query else {"$and": [query, bound]}


async def paginate(
    collection: AsyncCollection[dict[str, Any]],
    query: dict[str, Any],
    sort: Sort,
    index: IndexSpec | None,
    window: Window,
    model: type[T],
    *,
    projection: dict[str, int] | None = None,
    recent: str | None = None,
) -> Slice[T]:
    """One page of ``query`` in ``sort`` order, through ``index`` (``None``: the planner's
    choice; :func:`~jobyard_libs.mongo.hint_of` says when it is named); a cursor of
    another listing is a 422 naming ``cursor``. ``recent``: the date field ``sort`` starts
    with, newest first, to look in the latest spans first (see the module's notes)."""
    if window.cursor is not None and not _fits(window.cursor, sort):
        raise ValidationFailed("this cursor belongs to another listing", field="cursor")
    spans: tuple[timedelta | None, ...] = (None,)
    if recent is not None and sort[0] == (recent, -1):
        spans = (*RECENT_SPANS, None)
    start = utcnow()
    if window.cursor is not None and isinstance(window.cursor.values[0], datetime):
        start = window.cursor.values[0]
    raws: list[dict[str, Any]] = []
    for span in spans:
        within = _since(query, recent, start, span)
        raws = await walk(collection, within, sort, index, window, projection=projection).to_list()
        if len(raws) > window.limit:
            break
    more = len(raws) > window.limit
    items = model.many(raws[: window.limit])
    next_cursor = None
    if more and items:
        last = raws[window.limit - 1]
        next_cursor = Cursor(tuple(last[field] for field, _ in sort)).encode()
    if window.exact_total:
        counted = await collection.count_documents(query, **hint_option(query, index))
    else:  # walks at most TOTAL_CAP + 1 index entries (on MongoDB)
        counted = await collection.count_documents(query, limit=TOTAL_CAP + 1, **hint_option(query, index))
    capped = not window.exact_total and counted > TOTAL_CAP
    return Slice(items, min(counted, TOTAL_CAP) if capped else counted, capped, next_cursor)
