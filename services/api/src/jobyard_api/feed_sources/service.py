"""Feed sources: what the hourly import fetches (admins manage them)."""

from __future__ import annotations

from typing import Any

from jobyard_libs.documents import Oid
from jobyard_libs.errors import Conflict, NotFoundError, found
from jobyard_libs.imports.documents import FeedSource
from jobyard_libs.imports.feed_sources import FeedSourceRepository, FeedUrlTaken
from jobyard_libs.listing import Slice, Window
from jobyard_libs.mongo import Database

from jobyard_api.feed_sources.schemas import FeedSourceIn, FeedSourcePatch


class FeedSourceNotFound(NotFoundError):
    message = "feed source not found"


class FeedUrlExists(Conflict):
    code, message = "feed_url_exists", "a feed source with this url exists already"


class FeedSourceService:
    def __init__(self, db: Database) -> None:
        self.repository = FeedSourceRepository(db)

    async def create(self, body: FeedSourceIn) -> FeedSource:
        source = FeedSource(url=str(body.url), name=body.name or str(body.url), enabled=body.enabled)
        try:
            return await self.repository.insert(source)
        except FeedUrlTaken as exc:
            raise FeedUrlExists(field="url") from exc

    async def get(self, source_id: Oid) -> FeedSource:
        return found(await self.repository.by_id(source_id), FeedSourceNotFound)

    async def page(self, window: Window) -> Slice[FeedSource]:
        return await self.repository.page(window)

    async def change(self, source_id: Oid, patch: FeedSourcePatch) -> FeedSource:
        source = await self.get(source_id)
        changes: dict[str, Any] = patch.model_dump(exclude_none=True)
        if not changes:
            return source
        if "url" in changes and changes["url"] != source.url:
            changes.update(etag=None, last_modified=None)  # validators belong to the old url
        try:
            updated = await self.repository.update(source.id, **changes)
        except FeedUrlTaken as exc:
            raise FeedUrlExists(field="url") from exc
        return found(updated, FeedSourceNotFound)

    async def delete(self, source_id: Oid) -> None:
        source = await self.get(source_id)
        await self.repository.delete(source.id)

    async def seed(self, urls: list[str]) -> int:
        return await self.repository.seed_once(urls)
