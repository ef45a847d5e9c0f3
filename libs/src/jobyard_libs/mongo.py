"""The MongoDB client (PyMongo's ``AsyncMongoClient``) and idempotent index creation.

Each service declares the indexes its queries need as :class:`IndexSpec` values and
calls :func:`ensure_indexes` at start-up; creating an index that exists is a no-op.

Usage
-----

::

    USERS_EMAIL = IndexSpec("users", [("email", 1)], unique=True)
    await ensure_indexes(db, [USERS_EMAIL])
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter
from pymongo import AsyncMongoClient, IndexModel, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from jobyard_libs.outages import MONGODB_OUTAGES, OutageLog, backoff_seconds
from jobyard_libs.settings import BaseServiceSettings

Document = dict[str, Any]
Database = AsyncDatabase[Document]
MongoClient = AsyncMongoClient[Document]


@dataclass(frozen=True)
class IndexSpec:
    """One index: collection, keys, options. The name is derived from the keys."""

    collection: str
    keys: Sequence[tuple[str, int]]
    unique: bool = False
    expire_after_seconds: int | None = None
    partial_filter: Document | None = field(default=None)

    @property
    def name(self) -> str:
        return "_".join(f"{k}_{d}" for k, d in self.keys)

    def model(self) -> IndexModel:
        options: Document = {"name": self.name, "unique": self.unique}
        if self.expire_after_seconds is not None:
            options["expireAfterSeconds"] = self.expire_after_seconds
        if self.partial_filter is not None:
            options["partialFilterExpression"] = self.partial_filter
        return IndexModel(list(self.keys), **options)


def utcnow() -> datetime:
    """Now, in UTC, at BSON's precision (milliseconds), so stored and returned times agree."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class _Hints:
    """Whether queries name the index they walk (``hint``): yes on MongoDB and secantusd-py,
    whose planners may otherwise scan; no on secantusd-rs, where a hinted query walks the
    whole index (8 ms at 20,000 documents, against 0.4 ms unhinted, in which case its planner
    picks that index itself; docs/performance.md). Learnt from the server's ``buildInfo``
    when a process connects (:func:`ensure_indexes`)."""

    enabled = True


HINTS = _Hints()


def hint_of(query: Document, index: IndexSpec | None) -> str | None:
    """The hint to send with ``query`` walking ``index`` (``None``: send none).

    None when this server takes no hints (:class:`_Hints`), and none when the query is an
    equality on the index's leading field alone: every planner takes an index led by the
    only field a query names, and secantusd-py, given a hint, walks the index whole (a
    feed's jobs, 500 of 10,000: 200 ms hinted, 26 ms not; a task's last run at 4,000
    executions: 70 ms, 0.8 ms). A query that also names another index's field (a cursor's
    bound on the sort keys) keeps its hint: secantusd-py scans the collection without it.
    """
    if index is None or not HINTS.enabled:
        return None
    lead = index.keys[0][0]
    if list(query) == [lead] and not isinstance(query[lead], dict):
        return None
    return index.name


def hint_option(query: Document, index: IndexSpec | None) -> dict[str, Any]:
    """``hint_of`` as a keyword of ``find_one``/``count_documents`` (which refuse ``None``)."""
    chosen = hint_of(query, index)
    return {} if chosen is None else {"hint": chosen}


async def learn_hints(db: Database) -> None:
    info = await db.client.admin.command("buildInfo")
    rust = "secantusVersion" in info and "wiredTiger" in info.get("storageEngines", [])
    HINTS.enabled = not rust


def hint_for(query: Document, preferred: Sequence[IndexSpec], fallback: IndexSpec) -> IndexSpec:
    """The index a listing filtered by ``query`` walks: the first in ``preferred`` whose
    leading field the query filters on, else ``fallback`` (the unfiltered order).

    Named explicitly (:func:`hint_of`) because a planner may otherwise scan (secantusdb does
    when a query filters on fields of two different indexes); MongoDB honours the same hint.
    """
    return next((spec for spec in preferred if spec.keys[0][0] in query), fallback)


async def update_by_id(
    collection: AsyncCollection[Document],
    doc_id: Any,
    update: Document | list[Document],
    *,
    expect: Document | None = None,
) -> Document | None:
    """Update one document by ``_id`` if it also matches ``expect``; return it as it is now.

    ``None`` when no document matched. Used instead of ``find_one_and_update``: the
    embedded server (secantusdb) re-checks a findAndModify's query as ``{_id, $and: [...]}``,
    which its planner cannot route through ``_id``, so every findAndModify scanned the
    collection (50 ms at 5,000 executions). A conditional update plus a read, both by
    ``_id``, are two point operations on MongoDB and on the embedded server alike. The
    condition is still atomic with the write; the read may show a later change than this
    one, never an earlier one. ``_id`` comes first in the filter: the embedded server's
    planner takes the first indexed field it meets.
    """
    result = await collection.update_one({"_id": doc_id, **(expect or {})}, update)
    if result.matched_count == 0:
        return None
    return await collection.find_one({"_id": doc_id})


COMMANDS = Counter(
    "jobyard_mongodb_commands_total",
    "Commands this process sent to MongoDB, by command name (find, insert, update, ...).",
    ["command"],
)
DOCUMENTS_WRITTEN = Counter(
    "jobyard_mongodb_documents_written_total",
    "Documents MongoDB reported inserted, modified or deleted by this process's commands.",
    ["command"],
)
WRITES = {"insert", "update", "delete", "findAndModify"}


class CommandMetrics(monitoring.CommandListener):
    """Counts every command and the documents it wrote: the database round trips per task
    or per page, as a figure (``make bench`` reads them) and on the dashboards."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        COMMANDS.labels(event.command_name).inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if event.command_name not in WRITES:
            return
        reply = event.reply
        if event.command_name == "update":
            written = int(reply.get("nModified", 0)) + len(reply.get("upserted", ()))
        elif event.command_name == "findAndModify":
            written = int(reply.get("lastErrorObject", {}).get("n", 0))
        else:
            written = int(reply.get("n", 0))
        if written:
            DOCUMENTS_WRITTEN.labels(event.command_name).inc(written)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return


def create_mongo_client(
    settings: BaseServiceSettings, *, requests: bool = False
) -> AsyncMongoClient[Document]:
    """``requests``: the client of an HTTP service, whose callers want a fast 503 when MongoDB
    is away (``JOBYARD_MONGODB_REQUEST_TIMEOUT_MS``), not the loops' patient wait."""
    timeout = settings.mongodb_request_timeout_ms if requests else settings.mongodb_timeout_ms
    return AsyncMongoClient(
        settings.mongodb_url,
        serverSelectionTimeoutMS=timeout,
        connectTimeoutMS=max(timeout, 1000),
        # idle connections are closed before a server or a proxy drops them (the embedded
        # server after 5 minutes, load balancers often sooner): a stale one fails its next use
        maxIdleTimeMS=int(settings.mongodb_max_idle_seconds * 1000),
        tz_aware=True,
        uuidRepresentation="standard",
        event_listeners=[CommandMetrics()],
    )


async def ensure_indexes(db: Database, specs: Iterable[IndexSpec]) -> None:
    """Create the indexes (an existing one is a no-op), and learn whether to hint them."""
    await learn_hints(db)
    by_collection: dict[str, list[IndexModel]] = {}
    for spec in specs:
        by_collection.setdefault(spec.collection, []).append(spec.model())
    for collection, models in by_collection.items():
        await db[collection].create_indexes(models)


async def ensure_indexes_when_reachable(
    db: Database, specs: Sequence[IndexSpec], outages: OutageLog, *, failures: int = 0, max_wait: float = 30.0
) -> None:
    """Create the indexes, retrying while MongoDB is away until it is back (a background task)."""
    while True:
        if failures:
            await asyncio.sleep(backoff_seconds(failures, cap=max_wait))
        try:
            await ensure_indexes(db, specs)
        except MONGODB_OUTAGES as exc:
            failures += 1
            outages.failed("mongodb", exc)
            continue
        outages.recovered("mongodb")
        return
