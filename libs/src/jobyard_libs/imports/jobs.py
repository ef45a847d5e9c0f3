"""The ``jobs`` collection: imported postings, unique on ``(feedUrl, externalId)``.

Writes are classified before they are sent: a posting whose content hash is unchanged is
not written at all, a changed one is updated (``updatedAt`` moves), a new one is
inserted. Each written posting remembers the batch that wrote it and how
(``lastBatchId``, ``lastChange``), so a batch redelivered after a crash counts exactly as
the first delivery did.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from bson import ObjectId
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from jobyard_libs.feeds.html import sanitize, text_of
from jobyard_libs.imports.documents import Job, Posting, PostingUpdate
from jobyard_libs.imports.models import title_words
from jobyard_libs.listing import Slice, Window, paginate
from jobyard_libs.mongo import Database, Document, IndexSpec, hint_for, hint_of, utcnow

COLLECTION = "jobs"
NEWEST = [("postedAt", -1), ("_id", -1)]
# List filters in order of preference: the first one a query uses picks the index.
FILTER_INDEXES = [
    IndexSpec(COLLECTION, [("titleWords", 1), *NEWEST]),
    IndexSpec(COLLECTION, [("company", 1), *NEWEST]),
    IndexSpec(COLLECTION, [("location", 1), *NEWEST]),
    IndexSpec(COLLECTION, [("jobType", 1), *NEWEST]),
    IndexSpec(COLLECTION, [("feedUrl", 1), *NEWEST]),
]
LIST_INDEX = IndexSpec(COLLECTION, NEWEST)
LIST_PROJECTION = {"titleWords": 0, "lastBatchId": 0, "rawData": 0, "description": 0, "descriptionText": 0}
INDEXES = [
    IndexSpec(COLLECTION, [("feedUrl", 1), ("externalId", 1)], unique=True),
    LIST_INDEX,
    *FILTER_INDEXES,
    IndexSpec(COLLECTION, [("updatedAt", -1)]),
]


@dataclass(frozen=True)
class Existing:
    content_hash: str
    last_batch_id: str | None
    last_change: str | None


@dataclass
class WriteOutcome:
    inserted: set[str]  # externalIds this write inserted
    updated: int
    errors: dict[str, str]  # externalId → reason


@dataclass(frozen=True)
class JobFilters:
    """What a jobs listing (or a CSV export) keeps: exact fields, and every word of ``title``
    in the title."""

    feed_url: str | None = None
    company: str | None = None
    location: str | None = None
    job_type: str | None = None
    title: str | None = None

    def query(self) -> Document:
        exact = {
            "feedUrl": self.feed_url,
            "company": self.company,
            "location": self.location,
            "jobType": self.job_type,
        }
        query: Document = {field: value for field, value in exact.items() if value}
        words = title_words(self.title or "")
        if words:
            query["titleWords"] = {"$all": words}
        return query


def list_index(query: Document) -> IndexSpec:
    """The index a listing with this filter walks."""
    return hint_for(query, FILTER_INDEXES, LIST_INDEX)


class JobRepository:
    def __init__(self, db: Database) -> None:
        self.collection = db[COLLECTION]

    async def existing(self, feed_url: str, external_ids: list[str]) -> dict[str, Existing]:
        cursor = self.collection.find(
            {"feedUrl": feed_url, "externalId": {"$in": external_ids}},
            {"externalId": 1, "contentHash": 1, "lastBatchId": 1, "lastChange": 1, "_id": 0},
        )
        return {
            d["externalId"]: Existing(d.get("contentHash", ""), d.get("lastBatchId"), d.get("lastChange"))
            async for d in cursor
        }

    async def write(
        self,
        feed_url: str,
        batch_id: str,
        *,
        inserts: list[Posting],
        updates: list[PostingUpdate],
    ) -> WriteOutcome:
        """Insert new postings and update changed ones (each only if it still has the hash it
        was compared with) in one unordered bulk write."""
        now = utcnow()
        ops: list[UpdateOne] = []
        ids: list[str] = []
        for posting in inserts:
            doc = self._document(posting, batch_id, "new", now)
            ops.append(
                UpdateOne(
                    {"feedUrl": feed_url, "externalId": posting.external_id},
                    {"$setOnInsert": {**doc, "externalId": posting.external_id, "createdAt": now}},
                    upsert=True,
                )
            )
            ids.append(posting.external_id)
        for update in updates:
            posting = update.posting
            doc = self._document(posting, batch_id, "updated", now)
            where = {"feedUrl": feed_url, "externalId": posting.external_id, "contentHash": update.old_hash}
            ops.append(UpdateOne(where, {"$set": doc}))
            ids.append(posting.external_id)
        if not ops:
            return WriteOutcome(set(), 0, {})
        try:
            result = await self.collection.bulk_write(ops, ordered=False)
            return WriteOutcome({ids[i] for i in result.upserted_ids or {}}, result.modified_count, {})
        except BulkWriteError as exc:
            details = exc.details
            errors = {
                ids[e["index"]]: f"write failed: {e.get('errmsg', 'unknown error')}"[:300]
                for e in details.get("writeErrors", [])
            }
            inserted = {ids[u["index"]] for u in details.get("upserted", [])}
            return WriteOutcome(inserted, details.get("nModified", 0), errors)

    @staticmethod
    def _document(posting: Posting, batch_id: str, change: str, now: datetime) -> Document:
        return {
            **posting.stored(),
            "titleWords": title_words(posting.title),
            "postedAt": posting.published_at or now,
            "contentHash": posting.content_hash,
            "lastBatchId": batch_id,
            "lastChange": change,
            "updatedAt": now,
        }

    async def sanitize_stored(self, batch: int = 500) -> int:
        """One-off, for postings stored before descriptions were sanitised at import (they have
        no ``descriptionText``): made safe in place. Idempotent and resumable; how many it did.
        Their content hash is left as it was: the next import of a posting still in its feed
        counts it updated once."""
        done, after = 0, None
        while True:
            # walks _id in order: each batch starts where the last ended, never rescanning
            query: Document = {"descriptionText": {"$exists": False}}
            if after is not None:
                query["_id"] = {"$gt": after}
            found = (
                await self.collection.find(query, {"description": 1}).sort("_id", 1).limit(batch).to_list()
            )
            if not found:
                return done
            ops = [
                UpdateOne(
                    {"_id": doc["_id"]},
                    {
                        "$set": {
                            "description": sanitize(doc.get("description")),
                            "descriptionText": text_of(doc.get("description")),
                        }
                    },
                )
                for doc in found
            ]
            await self.collection.bulk_write(ops, ordered=False)
            done, after = done + len(ops), found[-1]["_id"]

    async def get(self, job_id: ObjectId) -> Job | None:
        return Job.from_mongo(
            await self.collection.find_one({"_id": job_id}, {"titleWords": 0, "lastBatchId": 0})
        )

    async def stream(self, filters: JobFilters, limit: int) -> AsyncIterator[Job]:
        """Newest first, one at a time (an export of any size holds one in memory)."""
        query = filters.query()
        async for raw in (
            self.collection.find(query, LIST_PROJECTION)
            .sort(NEWEST)
            .hint(hint_of(query, list_index(query)))
            .limit(limit)
        ):
            yield Job.model_validate(raw)

    async def page(self, filters: JobFilters, window: Window) -> Slice[Job]:
        """Newest first, through the index the filters call for, without the long fields."""
        query = filters.query()
        return await paginate(
            self.collection, query, NEWEST, list_index(query), window, Job, projection=LIST_PROJECTION
        )
