"""The audit trail: who did what to what, from where, and when (OWASP ASVS V7).

Security-relevant events (sign-ins and their failures, registrations, role and activation
changes, API keys made and revoked, Google identities linked or refused, feed sources
changed, an admin acting on someone else's work, outbound calls the egress guard refused)
are stored in the ``audit`` collection **append-only**: this repository inserts and reads,
nothing updates or deletes an event; each expires ``JOBYARD_AUDIT_RETENTION_DAYS`` after it
happened (a TTL index on ``expiresAt``). Every event is also one structured log line
(``event="audit"``) for a SIEM, written whether or not MongoDB took the event.

The client's address and the request id come from the request being served
(:mod:`jobyard_libs.request_id`), so a caller cannot forget them.

Usage
-----

::

    audit = AuditLog(db, retention_days=365)
    await audit.record(AuditAction.API_KEY_CREATED, actor=principal, target=("api_key", key_id))
    page = await audit.page(window, AuditFilter(action=AuditAction.SIGN_IN_FAILED))
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog
from pydantic import Field

from jobyard_libs.auth import Principal
from jobyard_libs.documents import IdStr, StoredDocument
from jobyard_libs.listing import Slice, Window, paginate
from jobyard_libs.mongo import Database, IndexSpec, hint_for, utcnow
from jobyard_libs.outages import MONGODB_OUTAGES
from jobyard_libs.request_id import current_client_ip, current_request_id
from jobyard_libs.schemas import Reply

log = structlog.get_logger("jobyard.audit")
COLLECTION = "audit"
NEWEST = [("at", -1), ("_id", -1)]
FILTERS = [  # in order of preference
    IndexSpec(COLLECTION, [("actorId", 1), *NEWEST]),
    IndexSpec(COLLECTION, [("targetId", 1), *NEWEST]),
    IndexSpec(COLLECTION, [("action", 1), *NEWEST]),
]
LIST_INDEX = IndexSpec(COLLECTION, NEWEST)
INDEXES = [*FILTERS, LIST_INDEX, IndexSpec(COLLECTION, [("expiresAt", 1)], expire_after_seconds=0)]


class AuditAction(StrEnum):
    SIGN_IN = "auth.sign_in"
    SIGN_IN_FAILED = "auth.sign_in_failed"
    SIGN_IN_LOCKED = "auth.sign_in_locked"  # too many consecutive failures: the password alone no longer does
    SIGN_IN_UNLOCKED = "auth.sign_in_unlocked"
    SESSIONS_REVOKED = "auth.sessions_revoked"
    REGISTERED = "user.registered"
    ROLE_CHANGED = "user.role_changed"
    ACTIVATION_CHANGED = "user.activation_changed"
    GOOGLE_LINKED = "user.google_linked"
    GOOGLE_LINK_REFUSED = "user.google_link_refused"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    FEED_SOURCE_CREATED = "feed_source.created"
    FEED_SOURCE_CHANGED = "feed_source.changed"
    FEED_SOURCE_DELETED = "feed_source.deleted"
    IMPORT_STARTED = "import.started"
    ADMIN_ACTED_ON_OTHERS_WORK = "task.admin_action"
    EGRESS_REFUSED = "egress.refused"


class AuditEvent(StoredDocument):
    """One event, as stored: never changed after it is written."""

    action: AuditAction
    outcome: str = "success"  # or "failure"
    actor_id: str | None = None  # the user who acted; None: anonymous or the platform itself
    actor_via: str | None = None  # access_token, api_key, system
    credential_id: str | None = None  # the token's jti or the API key's id
    target_type: str | None = None
    target_id: str | None = None
    client_ip: str | None = None
    request_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None


class AuditEventOut(Reply):
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


@dataclass(frozen=True)
class AuditFilter:
    actor_id: str | None = None
    target_id: str | None = None
    action: AuditAction | None = None
    since: datetime | None = None
    until: datetime | None = None

    def query(self) -> dict[str, Any]:
        query: dict[str, Any] = {}
        for name, value in (
            ("actorId", self.actor_id),
            ("targetId", self.target_id),
            ("action", self.action),
        ):
            if value is not None:
                query[name] = str(value)
        window = {op: moment for op, moment in (("$gte", self.since), ("$lt", self.until)) if moment}
        if window:
            query["at"] = window
        return query


class AuditLog:
    def __init__(self, db: Database, *, retention_days: int) -> None:
        self.collection = db[COLLECTION]
        self.retention = timedelta(days=retention_days)

    async def record(
        self,
        action: AuditAction,
        *,
        actor: Principal | None = None,
        actor_id: str | None = None,
        target: tuple[str, str] | None = None,
        outcome: str = "success",
        **details: Any,
    ) -> AuditEvent:
        """Store one event (and log it). ``actor``: the caller; ``actor_id`` where there is no
        principal (a failed sign-in names the account it tried, the worker the task's owner)."""
        now = utcnow()
        event = AuditEvent(
            action=action,
            outcome=outcome,
            actor_id=actor.subject if actor else actor_id,
            actor_via=actor.via if actor else ("system" if actor_id is None else None),
            credential_id=actor.credential_id if actor else None,
            target_type=target[0] if target else None,
            target_id=target[1] if target else None,
            client_ip=current_client_ip(),
            request_id=current_request_id(),
            details={name: value for name, value in details.items() if value is not None},
            at=now,
            expires_at=now + self.retention,
        )
        log.info("audit", **event.model_dump(mode="json", exclude={"id", "expires_at"}))
        try:
            await self.collection.insert_one(event.to_mongo())
        except MONGODB_OUTAGES as exc:  # the log line above still reaches the SIEM
            log.warning("audit_not_stored", action=action.value, error=str(exc))
        return event

    async def egress_refused(
        self, owner_id: str | None, target: tuple[str, str], refusal: Exception, **details: Any
    ) -> AuditEvent:
        """An outbound call of ``owner_id``'s work the egress guard refused (``None``: the platform's)."""
        return await self.record(
            AuditAction.EGRESS_REFUSED,
            actor_id=owner_id,
            target=target,
            outcome="failure",
            reason=str(refusal)[:500],
            **details,
        )

    async def page(self, window: Window, where: AuditFilter) -> Slice[AuditEvent]:
        """Newest first, through the index the filter calls for."""
        query = where.query()
        return await paginate(
            self.collection, query, NEWEST, hint_for(query, FILTERS, LIST_INDEX), window, AuditEvent
        )
