"""Feed sources: what the hourly import fetches (admins manage them)."""

from __future__ import annotations

from typing import Any

from jobyard_libs.errors import Conflict, NotFoundError
from jobyard_libs.imports.feed_sources import FeedSourceRepository, FeedUrlTaken
from jobyard_libs.mongo import Database, Document

from jobyard_api.feed_sources.schemas import FeedSourceIn, FeedSourceOut, FeedSourcePatch
from jobyard_api.ids import object_id


class FeedSourceNotFound(NotFoundError):
    message = "feed source not found"


class FeedUrlExists(Conflict):
    code, message = "feed_url_exists", "a feed source with this url exists already"


def to_out(doc: Document) -> FeedSourceOut:
    last_log = doc.get("lastImportLogId")
    return FeedSourceOut(
        id=str(doc["_id"]),
        url=doc["url"],
        name=doc["name"],
        enabled=doc["enabled"],
        etag=doc.get("etag"),
        last_modified=doc.get("lastModified"),
        last_run_at=doc.get("lastRunAt"),
        last_status=doc.get("lastStatus"),
        last_success_at=doc.get("lastSuccessAt"),
        last_import_log_id=str(last_log) if last_log else None,
        created_at=doc["createdAt"],
        updated_at=doc["updatedAt"],
    )


class FeedSourceService:
    def __init__(self, db: Database) -> None:
        self.repository = FeedSourceRepository(db)

    async def create(self, body: FeedSourceIn) -> Document:
        try:
            return await self.repository.insert(
                url=str(body.url), name=body.name or str(body.url), enabled=body.enabled
            )
        except FeedUrlTaken as exc:
            raise FeedUrlExists(field="url") from exc

    async def get(self, source_id: str) -> Document:
        oid = object_id(source_id)
        doc = await self.repository.by_id(oid) if oid else None
        if doc is None:
            raise FeedSourceNotFound()
        return doc

    async def page(self, skip: int, limit: int) -> tuple[list[Document], int]:
        return await self.repository.page(skip, limit)

    async def change(self, source_id: str, patch: FeedSourcePatch) -> Document:
        doc = await self.get(source_id)
        fields: dict[str, Any] = patch.model_dump(exclude_none=True)
        if not fields:
            return doc
        if "url" in fields and fields["url"] != doc["url"]:
            fields.update(etag=None, lastModified=None)  # validators belong to the old url
        try:
            updated = await self.repository.update(doc["_id"], fields)
        except FeedUrlTaken as exc:
            raise FeedUrlExists(field="url") from exc
        if updated is None:
            raise FeedSourceNotFound()
        return updated

    async def delete(self, source_id: str) -> None:
        doc = await self.get(source_id)
        await self.repository.delete(doc["_id"])

    async def seed(self, urls: list[str]) -> int:
        return await self.repository.seed_once(urls)
