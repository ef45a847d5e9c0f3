"""Live status changes over Redis pub/sub: what ``GET /api/v1/events`` streams (SSE).

Each change is published on its owner's channel; changes an admin should see (every
import) also go to the admins' channel. A subscriber gets only what happens while it
listens: state is always in the API, events only say that it changed.

Usage
-----

::

    publisher = EventPublisher(redis, RedisKeys("jobyard:"))
    await publisher.import_changed(log)  # to its requester's stream and the admins'
    publisher.add_execution_changed(pipe, execution)  # on a pipeline the caller runs
"""

from __future__ import annotations

import functools
import json
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from jobyard_libs.documents import StoredDocument
from jobyard_libs.imports.documents import ImportLog
from jobyard_libs.redis_client import RedisKeys
from jobyard_libs.tasks.documents import Execution

log = structlog.get_logger(__name__)
ADMINS = "admins"


def channel(keys: RedisKeys, audience: str) -> str:
    return keys.key("events", audience)


SUMMARIES = {  # what an event says of what changed: enough to update a row, never the payload
    "execution": ("status", "attempts", "taskId", "kind", "error", "completedAt", "awaitingCallback"),
    "import": (
        "status",
        "feedUrl",
        "totalFetched",
        "totalImported",
        "newJobs",
        "updatedJobs",
        "unchangedJobs",
        "failedCount",
        "batchesTotal",
        "batchesApplied",
        "error",
    ),
}


@functools.cache
def _summary_fields(model: type[StoredDocument], kind: str) -> frozenset[str]:
    """The attributes of ``model`` whose stored names the summary of ``kind`` lists."""
    return frozenset(name for name, f in model.model_fields.items() if (f.alias or name) in SUMMARIES[kind])


def _summary(kind: str, document: StoredDocument) -> dict[str, Any]:
    fields = document.model_dump(
        mode="json", by_alias=True, include=set(_summary_fields(type(document), kind))
    )
    return {"id": str(document.id), **{name: fields.get(name) for name in SUMMARIES[kind]}}


def _message(kind: str, document: StoredDocument) -> str:
    return json.dumps({"type": kind, "data": _summary(kind, document)})


class EventPublisher:
    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        self.redis = redis
        self.keys = keys

    async def publish(
        self, kind: str, document: StoredDocument, *, owner_id: str | None, admins: bool = False
    ) -> None:
        """Best effort: a lost event never fails the change it reports."""
        message = _message(kind, document)
        audiences = ([owner_id] if owner_id else []) + ([ADMINS] if admins else [])
        try:
            for audience in audiences:
                await self.redis.publish(channel(self.keys, audience), message)
        except RedisError as exc:
            log.warning("event_not_published", kind=kind, error=str(exc))

    def add_execution_changed(self, pipe: Pipeline, execution: Execution) -> None:
        """An execution's change to its owner's stream, queued on ``pipe``: the changes of a
        group commit go out in one round trip (the caller runs the pipeline)."""
        pipe.publish(channel(self.keys, execution.owner_id), _message("execution", execution))

    async def import_changed(self, log: ImportLog) -> None:
        await self.publish("import", log, owner_id=log.requested_by, admins=True)
