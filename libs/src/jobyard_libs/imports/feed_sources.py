"""The ``feed_sources`` collection: which feeds are imported, and their HTTP validators."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from jobyard_libs.mongo import Database, Document, IndexSpec, update_by_id, utcnow

COLLECTION = "feed_sources"
META = "meta"
SEEDED_MARKER = "feed_sources_seeded"
INDEXES = [
    IndexSpec(COLLECTION, [("url", 1)], unique=True),
    IndexSpec(COLLECTION, [("enabled", 1), ("url", 1)]),
    IndexSpec(COLLECTION, [("createdAt", -1), ("_id", -1)]),
]


class FeedUrlTaken(Exception):
    pass


class FeedSourceRepository:
    def __init__(self, db: Database) -> None:
        self.collection = db[COLLECTION]
        self.meta = db[META]

    async def insert(self, *, url: str, name: str, enabled: bool = True) -> Document:
        now = utcnow()
        doc: Document = {
            "url": url,
            "name": name,
            "enabled": enabled,
            "etag": None,
            "lastModified": None,
            "lastRunAt": None,
            "lastStatus": None,
            "lastSuccessAt": None,
            "lastImportLogId": None,
            "createdAt": now,
            "updatedAt": now,
        }
        try:
            doc["_id"] = (await self.collection.insert_one(doc)).inserted_id
        except DuplicateKeyError as exc:
            raise FeedUrlTaken(url) from exc
        return doc

    async def seed_once(self, urls: list[str]) -> int:
        """Store ``urls`` the first time this database sees them; later starts change nothing."""
        marker = await self.meta.find_one({"_id": SEEDED_MARKER})
        if marker is not None:
            return 0
        added = 0
        for url in urls:
            try:
                await self.insert(url=url, name=url)
                added += 1
            except FeedUrlTaken:
                continue
        with contextlib.suppress(DuplicateKeyError):  # another service seeded at the same moment
            await self.meta.insert_one({"_id": SEEDED_MARKER, "at": utcnow(), "urls": urls})
        return added

    async def by_id(self, source_id: ObjectId) -> Document | None:
        return await self.collection.find_one({"_id": source_id})

    async def by_urls(self, urls: list[str]) -> list[Document]:
        return await self.collection.find({"url": {"$in": urls}}).to_list()

    async def enabled(self) -> list[Document]:
        return await self.collection.find({"enabled": True}).sort("url", 1).to_list()

    async def page(self, skip: int, limit: int) -> tuple[list[Document], int]:
        cursor = self.collection.find({}).sort([("createdAt", -1), ("_id", -1)]).skip(skip).limit(limit)
        return await cursor.to_list(), await self.collection.count_documents({})

    async def update(self, source_id: ObjectId, fields: dict[str, Any]) -> Document | None:
        try:
            return await update_by_id(self.collection, source_id, {"$set": {**fields, "updatedAt": utcnow()}})
        except DuplicateKeyError as exc:
            raise FeedUrlTaken(str(fields.get("url"))) from exc

    async def delete(self, source_id: ObjectId) -> bool:
        return (await self.collection.delete_one({"_id": source_id})).deleted_count == 1

    async def record_run(
        self,
        url: str,
        *,
        log_id: ObjectId,
        status: str,
        at: datetime,
        etag: str | None = None,
        last_modified: str | None = None,
        succeeded: bool,
    ) -> None:
        fields: Document = {"lastRunAt": at, "lastStatus": status, "lastImportLogId": log_id}
        if succeeded:
            fields["lastSuccessAt"] = at
        if etag is not None or last_modified is not None:
            fields.update(etag=etag, lastModified=last_modified)
        await self.collection.update_one({"url": url}, {"$set": fields})
