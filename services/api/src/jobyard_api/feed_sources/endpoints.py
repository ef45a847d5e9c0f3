from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response, status
from jobyard_libs.documents import Oid
from jobyard_libs.imports.replies import FeedSourceOut
from jobyard_libs.schemas import Page, Pagination, page_of, path_id

from jobyard_api.deps import AdminPrincipal, FeedSources
from jobyard_api.feed_sources.schemas import FeedSourceIn, FeedSourcePatch

router = APIRouter(prefix="/api/v1/feed-sources", tags=["feed sources"])
SourceId = Annotated[Oid, path_id("source_id")]


@router.get("")
async def list_feed_sources(_: AdminPrincipal, sources: FeedSources, page: Pagination) -> Page[FeedSourceOut]:
    return page_of(await sources.page(page.window), page, FeedSourceOut.model_validate)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_feed_source(
    body: FeedSourceIn, admin: AdminPrincipal, sources: FeedSources
) -> FeedSourceOut:
    return FeedSourceOut.model_validate(await sources.create(body, admin))


@router.get("/{source_id}")
async def get_feed_source(source_id: SourceId, _: AdminPrincipal, sources: FeedSources) -> FeedSourceOut:
    return FeedSourceOut.model_validate(await sources.get(source_id))


@router.patch("/{source_id}")
async def change_feed_source(
    source_id: SourceId, body: FeedSourcePatch, admin: AdminPrincipal, sources: FeedSources
) -> FeedSourceOut:
    return FeedSourceOut.model_validate(await sources.change(source_id, body, admin))


@router.delete("/{source_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_feed_source(source_id: SourceId, admin: AdminPrincipal, sources: FeedSources) -> Response:
    await sources.delete(source_id, admin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
