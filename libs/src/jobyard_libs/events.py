"""Live status changes over Redis pub/sub: what ``GET /api/v1/events`` streams (SSE).

Each change is published on its owner's channel; changes an admin should see (every
import) also go to the admins' channel. A subscriber gets only what happens while it
listens: state is always in the API, events only say that it changed.

Examples
--------
>>> publisher = EventPublisher(redis, RedisKeys("jobyard:"))
>>> await publisher.publish("execution", execution_doc, owner_id="65f...")
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from jobyard_libs.mongo import Document
from jobyard_libs.redis_client import RedisKeys

log = structlog.get_logger(__name__)
ADMINS = "admins"


def channel(keys: RedisKeys, audience: str) -> str:
    return keys.key("events", audience)


def _summary(kind: str, doc: Document) -> dict[str, Any]:
    fields = {
        "execution": ("status", "attempts", "taskId", "kind", "error", "completedAt", "awaitingCallback"),
        "import": (
            "status",
            "feedUrl",
            "totalFetched",
            "totalImported",
            "newJobs",
            "updatedJobs",
            "failedCount",
            "error",
        ),
    }[kind]
    return {"id": str(doc["_id"]), **{f: doc.get(f) for f in fields}}


def _default(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


class EventPublisher:
    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        self.redis = redis
        self.keys = keys

    async def publish(self, kind: str, doc: Document, *, owner_id: str | None, admins: bool = False) -> None:
        """Best effort: a lost event never fails the change it reports."""
        message = json.dumps({"type": kind, "data": _summary(kind, doc)}, default=_default)
        audiences = ([owner_id] if owner_id else []) + ([ADMINS] if admins else [])
        try:
            for audience in audiences:
                await self.redis.publish(channel(self.keys, audience), message)
        except RedisError as exc:
            log.warning("event_not_published", kind=kind, error=str(exc))

    async def execution_changed(self, doc: Document) -> None:
        await self.publish("execution", doc, owner_id=doc.get("ownerId"))

    async def import_changed(self, doc: Document) -> None:
        await self.publish("import", doc, owner_id=doc.get("requestedBy"), admins=True)
