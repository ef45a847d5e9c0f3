"""Feed sources: what the hourly import fetches (admins manage them)."""

from __future__ import annotations

from jobyard_libs.audit import AuditAction
from jobyard_libs.auth import Principal
from jobyard_libs.documents import Oid
from jobyard_libs.errors import Conflict, NotFoundError, found
from jobyard_libs.imports.documents import FeedSource
from jobyard_libs.imports.feed_sources import FeedSourceChanges, FeedSourceRepository, FeedUrlTaken
from jobyard_libs.listing import Slice, Window
from jobyard_libs.mongo import Database

from jobyard_api.audit.service import AuditService
from jobyard_api.feed_sources.schemas import FeedSourceIn, FeedSourcePatch


class FeedSourceNotFound(NotFoundError):
    message = "feed source not found"


class FeedUrlExists(Conflict):
    code, message = "feed_url_exists", "a feed source with this url exists already"


def _target(source: FeedSource) -> tuple[str, str]:
    return ("feed_source", str(source.id))


class FeedSourceService:
    """Every change is audited (who, what, which url)."""

    def __init__(self, db: Database, audit: AuditService) -> None:
        self.repository = FeedSourceRepository(db)
        self.audit = audit

    async def create(self, body: FeedSourceIn, admin: Principal) -> FeedSource:
        source = FeedSource(url=str(body.url), name=body.name or str(body.url), enabled=body.enabled)
        try:
            created = await self.repository.insert(source)
        except FeedUrlTaken as exc:
            raise FeedUrlExists(field="url") from exc
        await self.audit.record(AuditAction.FEED_SOURCE_CREATED, admin, _target(created), url=created.url)
        return created

    async def get(self, source_id: Oid) -> FeedSource:
        return found(await self.repository.by_id(source_id), FeedSourceNotFound)

    async def page(self, window: Window) -> Slice[FeedSource]:
        return await self.repository.page(window)

    async def change(self, source_id: Oid, patch: FeedSourcePatch, admin: Principal) -> FeedSource:
        source = await self.get(source_id)
        changes = FeedSourceChanges(**patch.model_dump(exclude_none=True))
        if not changes.model_fields_set:
            return source
        if changes.url is not None and changes.url != source.url:
            changes.etag, changes.last_modified = None, None  # validators belong to the old url
        try:
            updated = await self.repository.update(source.id, changes)
        except FeedUrlTaken as exc:
            raise FeedUrlExists(field="url") from exc
        changed = found(updated, FeedSourceNotFound)
        await self.audit.record(
            AuditAction.FEED_SOURCE_CHANGED,
            admin,
            _target(changed),
            url=source.url,
            changes=patch.model_dump(mode="json", exclude_none=True, by_alias=True),
        )
        return changed

    async def delete(self, source_id: Oid, admin: Principal) -> None:
        source = await self.get(source_id)
        await self.repository.delete(source.id)
        await self.audit.record(AuditAction.FEED_SOURCE_DELETED, admin, _target(source), url=source.url)

    async def seed(self, urls: list[str]) -> int:
        return await self.repository.seed_once(urls)
