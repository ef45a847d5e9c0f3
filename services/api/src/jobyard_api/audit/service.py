"""The audit trail as the api serves it (admins), and what the api itself records: changes
to feed sources, imports started, and an admin acting on someone else's work."""

from __future__ import annotations

from typing import Any

from jobyard_libs.audit import AuditAction, AuditEvent, AuditFilter, AuditLog
from jobyard_libs.auth import Principal
from jobyard_libs.listing import Slice, Window


class AuditService:
    def __init__(self, log: AuditLog) -> None:
        self.log = log

    async def page(self, window: Window, where: AuditFilter) -> Slice[AuditEvent]:
        return await self.log.page(window, where)

    async def record(
        self, action: AuditAction, actor: Principal, target: tuple[str, str], **details: Any
    ) -> None:
        await self.log.record(action, actor=actor, target=target, **details)

    async def on_others_work(
        self, actor: Principal, owner_id: str, action: str, target: tuple[str, str]
    ) -> None:
        """An admin changed work that is not theirs: recorded (their own work is not)."""
        if actor.subject != owner_id:
            await self.log.record(
                AuditAction.ADMIN_ACTED_ON_OTHERS_WORK,
                actor=actor,
                target=target,
                did=action,
                owner=owner_id,
            )
