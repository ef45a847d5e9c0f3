"""Running the import end to end in tests: settings, a real Dramatiq worker, polling."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dramatiq
from bson import ObjectId
from jobyard_libs.imports.models import FINISHED
from jobyard_worker.settings import WorkerSettings
from jobyard_worker.setup import create_worker_broker

from tests.conftest import Isolation
from tests.support.feed_server import PUBLIC_STAND_IN
from tests.support.waiting import eventually

FAST = {
    "egress_allowed_hosts": PUBLIC_STAND_IN,
    "import_min_backoff_ms": 20,
    "import_max_backoff_ms": 100,
    "feed_fetch_backoff_seconds": 0.01,
    "feed_read_timeout_seconds": 5,
    "import_batch_size": 2,
}


def settings_for(isolation: Isolation, cls: type[Any] = WorkerSettings, **overrides: Any) -> Any:
    """``cls`` on this test's database and key prefix, fast retries; ``overrides`` win."""
    fields: dict[str, Any] = {
        "environment": "test",
        "mongodb_url": isolation.mongodb_url,
        "mongodb_database": isolation.database,
        "redis_url": isolation.redis_url,
        "redis_key_prefix": isolation.key_prefix,
        **{k: v for k, v in FAST.items() if k in cls.model_fields},
        **overrides,
    }
    return cls(_env_file=None, **fields)


@contextmanager
def running_worker(settings: WorkerSettings, threads: int = 2) -> Iterator[dramatiq.Worker]:
    """A real Dramatiq worker consuming from the Redis broker, in this process."""
    broker = create_worker_broker(settings)
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        broker.close()


async def wait_finished(db: Any, log_id: str | ObjectId, within: float = 30) -> dict[str, Any]:
    """Poll an import log until it is finished; return it."""
    oid = ObjectId(log_id)
    seen: dict[str, Any] | None = None

    async def finished() -> dict[str, Any] | None:
        nonlocal seen
        seen = await db.import_logs.find_one({"_id": oid})
        return seen if seen and seen["status"] in FINISHED else None

    return await eventually(finished, within=within, what=lambda: f"import log {log_id} to finish: {seen}")


async def wait_import(api: Any, log_id: str, within: float = 120) -> dict[str, Any]:
    """Poll `GET /api/v1/imports/{id}` (an httpx client with its headers) until the run ends."""
    seen: dict[str, Any] = {}

    async def finished() -> dict[str, Any] | None:
        nonlocal seen
        seen = (await api.get(f"/api/v1/imports/{log_id}")).json()
        return seen if seen.get("status") in FINISHED else None

    return await eventually(finished, within=within, what=lambda: f"import {log_id} to finish: {seen}")
