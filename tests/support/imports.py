"""Running the import end to end in tests: settings, a real Dramatiq worker, polling."""

from __future__ import annotations

import asyncio
import time
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
    deadline = time.monotonic() + within
    doc: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        doc = await db.import_logs.find_one({"_id": oid})
        if doc and doc["status"] in FINISHED:
            return doc
        await asyncio.sleep(0.05)
    raise AssertionError(f"import log {log_id} did not finish: {doc}")


async def wait_until_async(condition: Any, within: float = 30, what: str = "a condition") -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def wait_import(api: Any, log_id: str, within: float = 120) -> dict[str, Any]:
    """Poll `GET /api/v1/imports/{id}` (an httpx client with its headers) until the run ends."""
    deadline = time.monotonic() + within
    log: dict[str, Any] = {}
    while time.monotonic() < deadline:
        log = (await api.get(f"/api/v1/imports/{log_id}")).json()
        if log.get("status") in FINISHED:
            return log
        await asyncio.sleep(0.05)
    raise AssertionError(f"import {log_id} did not finish: {log}")
