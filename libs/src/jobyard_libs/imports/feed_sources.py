"""The ``feed_sources`` collection: which feeds are imported, and their HTTP validators."""

from __future__ import annotations

import contextlib

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from jobyard_libs.documents import Changes
from jobyard_libs.imports.documents import FeedSource, ImportLog
from jobyard_libs.imports.models import FINISHED, ImportStatus
from jobyard_libs.listing import Slice, Window, paginate
from jobyard_libs.mongo import Database, Document, IndexSpec, update_by_id, utcnow

COLLECTION = "feed_sources"
META = "meta"
SEEDED_MARKER = "feed_sources_seeded"
NEWEST = [("createdAt", -1), ("_id", -1)]
LIST_INDEX = IndexSpec(COLLECTION, NEWEST)
INDEXES = [
    IndexSpec(COLLECTION, [("url", 1)], unique=True),
    IndexSpec(COLLECTION, [("enabled", 1), ("url", 1)]),
    LIST_INDEX,
]


class FeedSourceChanges(Changes):
    """What an admin may change of a feed source (its validators go with its old url)."""

    url: str | None = None
    name: str | None = None
    enabled: bool | None = None
    etag: str | None = None
    last_modified: str | None = None


class FeedUrlTaken(Exception):
    pass


class FeedSourceRepository:
    def __init__(self, db: Database) -> None:
        self.collection = db[COLLECTION]
        self.meta = db[META]

    async def insert(self, source: FeedSource) -> FeedSource:
        try:
            await self.collection.insert_one(source.to_mongo())
        except DuplicateKeyError as exc:
            raise FeedUrlTaken(source.url) from exc
        return source

    async def seed_once(self, urls: list[str]) -> int:
        """Store ``urls`` the first time this database sees them; later starts change nothing."""
        marker = await self.meta.find_one({"_id": SEEDED_MARKER})
        if marker is not None:
            return 0
        added = 0
        for url in urls:
            try:
                await self.insert(FeedSource(url=url, name=url))
                added += 1
            except FeedUrlTaken:
                continue
        with contextlib.suppress(DuplicateKeyError):  # another service seeded at the same moment
            await self.meta.insert_one({"_id": SEEDED_MARKER, "at": utcnow(), "urls": urls})
        return added

    async def by_id(self, source_id: ObjectId) -> FeedSource | None:
        return FeedSource.from_mongo(await self.collection.find_one({"_id": source_id}))

    async def to_import(self, urls: list[str] | None) -> tuple[list[FeedSource], list[str]]:
        """The sources an import asked for by url (every enabled one when none are named),
        and the urls that are not a source."""
        if not urls:
            return await self.enabled(), []
        sources = FeedSource.many(await self.collection.find({"url": {"$in": urls}}).to_list())
        return sources, sorted(set(urls) - {s.url for s in sources})

    async def by_url(self, url: str) -> FeedSource | None:
        return FeedSource.from_mongo(await self.collection.find_one({"url": url}))

    async def enabled(self) -> list[FeedSource]:
        return FeedSource.many(await self.collection.find({"enabled": True}).sort("url", 1).to_list())

    async def page(self, window: Window) -> Slice[FeedSource]:
        return await paginate(self.collection, {}, NEWEST, LIST_INDEX, window, FeedSource)

    async def update(self, source_id: ObjectId, changes: FeedSourceChanges) -> FeedSource | None:
        update = {"$set": {**changes.to_set(), "updatedAt": utcnow()}}
        try:
            return FeedSource.from_mongo(await update_by_id(self.collection, source_id, update))
        except DuplicateKeyError as exc:
            raise FeedUrlTaken(str(changes.url)) from exc

    async def delete(self, source_id: ObjectId) -> bool:
        return (await self.collection.delete_one({"_id": source_id})).deleted_count == 1

    async def record_run(self, log: ImportLog) -> None:
        """Where the feed's import ``log`` is now; only the one that finished it calls this
        with a finished log. A completed import (parsed and applied) gives the feed its
        validators and its last success; a failed one leaves the validators as they were.
        A run still in flight is recorded only if its end was not recorded first (the batch
        that finished it may write before the runner does)."""
        fields: Document = {
            "lastRunAt": log.timestamp,
            "lastStatus": log.status.value,
            "lastImportLogId": log.id,
        }
        if log.status is ImportStatus.COMPLETED:
            fields.update(
                lastOutcome=log.status.value,
                lastSuccessAt=log.finished_at or utcnow(),
                etag=log.etag,
                lastModified=log.last_modified,
            )
        elif log.status is ImportStatus.FAILED:
            fields["lastOutcome"] = log.status.value
        query: Document = {"url": log.feed_url}
        if log.status not in FINISHED:
            query["lastImportLogId"] = {"$ne": log.id}
        await self.collection.update_one(query, {"$set": fields})
