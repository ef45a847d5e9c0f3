from __future__ import annotations

from fastapi import APIRouter, Response, status
from jobyard_libs.schemas import Page

from jobyard_api.deps import AdminPrincipal, FeedSources, Pagination
from jobyard_api.feed_sources.schemas import FeedSourceIn, FeedSourceOut, FeedSourcePatch
from jobyard_api.feed_sources.service import to_out

router = APIRouter(prefix="/api/v1/feed-sources", tags=["feed sources"])


@router.get("")
async def list_feed_sources(_: AdminPrincipal, sources: FeedSources, page: Pagination) -> Page[FeedSourceOut]:
    items, total = await sources.page(page.skip, page.limit)
    return Page(items=[to_out(s) for s in items], page=page.page, limit=page.limit, total=total)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_feed_source(body: FeedSourceIn, _: AdminPrincipal, sources: FeedSources) -> FeedSourceOut:
    return to_out(await sources.create(body))


@router.get("/{source_id}")
async def get_feed_source(source_id: str, _: AdminPrincipal, sources: FeedSources) -> FeedSourceOut:
    return to_out(await sources.get(source_id))


@router.patch("/{source_id}")
async def change_feed_source(
    source_id: str, body: FeedSourcePatch, _: AdminPrincipal, sources: FeedSources
) -> FeedSourceOut:
    return to_out(await sources.change(source_id, body))


@router.delete("/{source_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_feed_source(source_id: str, _: AdminPrincipal, sources: FeedSources) -> Response:
    await sources.delete(source_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
