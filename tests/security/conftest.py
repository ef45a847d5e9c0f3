"""One real platform per module (auth, api, worker on loopback) for the attacks to run against."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, MongoClient
from redis import Redis

from tests.conftest import Isolation
from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="module")
def module_isolation(mongodb_url: str, redis_url: str) -> Iterator[Isolation]:
    token = uuid.uuid4().hex[:12]
    iso = Isolation(mongodb_url, redis_url, f"m_{token}", f"m:{token}:")
    yield iso
    client: MongoClient[dict[str, object]]
    with MongoClient(mongodb_url) as client:
        client.drop_database(iso.database)
    redis = Redis.from_url(redis_url)
    keys = list(redis.scan_iter(match=f"{iso.key_prefix}*"))
    if keys:
        redis.delete(*keys)
    redis.close()


@pytest.fixture(scope="module")
def stack(module_isolation: Isolation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {
        **module_isolation.env(),
        "JOBYARD_TASK_RETRY_BASE_MS": "20",
        "JOBYARD_TASK_RETRY_MAX_MS": "100",
        "JOBYARD_TASK_STALE_GRACE_SECONDS": "0.2",
        "JOBYARD_SSE_MAX_STREAMS_PER_USER": "3",
        "JOBYARD_HTTP_MAX_BODY_BYTES": "65536",
        "JOBYARD_FEED_MAX_BYTES": str(16 * 1024 * 1024),
        "JOBYARD_SSE_KEEPALIVE_SECONDS": "0.5",
    }
    with running_stack(
        env, tmp_path_factory.mktemp("stack"), worker=True, monitor=True, scheduler=True
    ) as running:
        yield running


@pytest.fixture
async def db_of_stack(module_isolation: Isolation) -> AsyncIterator[Any]:
    """The stack's database (PyMongo async, tz-aware)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(module_isolation.mongodb_url, tz_aware=True)
    yield client[module_isolation.database]
    await client.close()
