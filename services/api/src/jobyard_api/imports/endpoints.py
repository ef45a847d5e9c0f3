from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, status
from jobyard_libs.imports.models import ImportStatus
from jobyard_libs.schemas import Page

from jobyard_api.deps import AdminPrincipal, CurrentPrincipal, Imports, Pagination
from jobyard_api.imports.schemas import ImportLogDetail, ImportLogOut, ImportStarted, ImportStartIn
from jobyard_api.imports.service import to_detail, to_out

router = APIRouter(prefix="/api/v1/imports", tags=["imports"])


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def start_import(
    admin: AdminPrincipal, imports: Imports, body: Annotated[ImportStartIn | None, Body()] = None
) -> ImportStarted:
    """Start an import of the given feed sources (default: every enabled one). A feed whose
    import is already running is joined: its run's log id comes back with ``joined: true``."""
    runs = await imports.start(body.feed_urls if body else None, requested_by=admin.subject)
    return ImportStarted(
        import_log_ids=[r.import_log_id for r in runs],
        feed_urls=[r.feed_url for r in runs],
        joined=all(r.joined for r in runs),
        runs=runs,
    )


@router.get("")
async def list_imports(
    _: CurrentPrincipal,
    imports: Imports,
    page: Pagination,
    feed_url: Annotated[str | None, Query(alias="feedUrl", max_length=2048)] = None,
    status_: Annotated[ImportStatus | None, Query(alias="status")] = None,
) -> Page[ImportLogOut]:
    """Import logs, newest first."""
    items, total = await imports.page(feed_url=feed_url, status=status_, skip=page.skip, limit=page.limit)
    return Page(items=[to_out(d) for d in items], page=page.page, limit=page.limit, total=total)


@router.get("/{log_id}")
async def get_import(log_id: str, _: CurrentPrincipal, imports: Imports) -> ImportLogDetail:
    return to_detail(await imports.get(log_id))
