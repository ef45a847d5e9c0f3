"""The MongoDB client (PyMongo's ``AsyncMongoClient``) and idempotent index creation.

Each service declares the indexes its queries need as :class:`IndexSpec` values and
calls :func:`ensure_indexes` at start-up; creating an index that exists is a no-op.

Examples
--------
>>> USERS_EMAIL = IndexSpec("users", [("email", 1)], unique=True)
>>> await ensure_indexes(db, [USERS_EMAIL])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from jobyard_libs.settings import BaseServiceSettings

Document = dict[str, Any]
Database = AsyncDatabase[Document]


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


def hint_for(query: Document, preferred: Sequence[IndexSpec]) -> str | None:
    """The first index in ``preferred`` whose leading field the query filters on.

    Named explicitly because a planner may otherwise scan (secantusdb does when a query
    filters on fields of two different indexes); MongoDB honours the same hint.
    """
    for spec in preferred:
        if spec.keys[0][0] in query:
            return spec.name
    return None


def create_mongo_client(settings: BaseServiceSettings) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(
        settings.mongodb_url,
        serverSelectionTimeoutMS=settings.mongodb_timeout_ms,
        connectTimeoutMS=settings.mongodb_timeout_ms,
        tz_aware=True,
        uuidRepresentation="standard",
    )


async def ensure_indexes(db: Database, specs: Iterable[IndexSpec]) -> None:
    by_collection: dict[str, list[IndexModel]] = {}
    for spec in specs:
        by_collection.setdefault(spec.collection, []).append(spec.model())
    for collection, models in by_collection.items():
        await db[collection].create_indexes(models)
