from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, status
from jobyard_libs.documents import Oid
from jobyard_libs.imports.models import ImportStatus
from jobyard_libs.imports.replies import ImportLogDetail, ImportLogOut, ImportStarted
from jobyard_libs.schemas import Page, Pagination, page_of, path_id

from jobyard_api.deps import AdminPrincipal, CurrentPrincipal, Imports
from jobyard_api.imports.schemas import ImportStartIn

router = APIRouter(prefix="/api/v1/imports", tags=["imports"])
ImportLogId = Annotated[Oid, path_id("log_id")]


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def start_import(
    admin: AdminPrincipal, imports: Imports, body: Annotated[ImportStartIn | None, Body()] = None
) -> ImportStarted:
    """Start an import of the given feed sources (default: every enabled one). A feed whose
    import is already running is joined: its run's log id comes back with ``joined: true``."""
    runs = await imports.start(body.feed_urls if body else None, admin)
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
    found = await imports.page(page.window, feed_url=feed_url, status=status_)
    return page_of(found, page, ImportLogOut.model_validate)


@router.get("/{log_id}")
async def get_import(log_id: ImportLogId, _: CurrentPrincipal, imports: Imports) -> ImportLogDetail:
    return ImportLogDetail.model_validate(await imports.get(log_id))
