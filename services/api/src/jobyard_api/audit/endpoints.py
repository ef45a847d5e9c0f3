from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from jobyard_libs.audit import AuditAction, AuditEventOut, AuditFilter
from jobyard_libs.schemas import Page, Pagination, page_of

from jobyard_api.deps import AdminPrincipal, Audit

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("")
async def list_audit_events(
    _: AdminPrincipal,
    audit: Audit,
    page: Pagination,
    actor_id: Annotated[str | None, Query(alias="actorId", max_length=64, description="who acted")] = None,
    target_id: Annotated[
        str | None, Query(alias="targetId", max_length=64, description="what was acted on")
    ] = None,
    action: AuditAction | None = None,
    since: Annotated[datetime | None, Query(description="from this time (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="before this time (ISO 8601)")] = None,
) -> Page[AuditEventOut]:
    """Security events, newest first (admins): sign-ins and failures, registrations, role and activation
    changes, API keys, Google identities, feed sources, imports started, admins acting on others' work,
    outbound calls the egress guard refused. Kept JOBYARD_AUDIT_RETENTION_DAYS."""
    where = AuditFilter(actor_id=actor_id, target_id=target_id, action=action, since=since, until=until)
    return page_of(await audit.page(page.window, where), page, AuditEventOut.model_validate)
