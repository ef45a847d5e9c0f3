from __future__ import annotations

from datetime import datetime
from typing import Any

from jobyard_libs.audit import AuditAction
from jobyard_libs.documents import IdStr
from jobyard_libs.schemas import ApiModel


class AuditEventOut(ApiModel):
    id: IdStr
    action: AuditAction
    outcome: str
    actor_id: str | None
    actor_via: str | None
    credential_id: str | None
    target_type: str | None
    target_id: str | None
    client_ip: str | None
    request_id: str | None
    details: dict[str, Any]
    at: datetime
