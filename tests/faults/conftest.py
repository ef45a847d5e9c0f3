"""The fault suite: the platform's real processes on loopback, and databases it can kill.

Every wait here is on a condition with a generous deadline, never a fixed sleep: these
tests must pass on a loaded machine (both cores busy) as on an idle one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import KillableRedis, MongoServer

# Short timeouts so that outages are noticed, and recoveries made, within seconds.
FAST_RECOVERY = {
    "JOBYARD_QUEUE_HEARTBEAT_TIMEOUT_MS": "3000",
    "JOBYARD_QUEUE_SWEEP_SECONDS": "0.5",
    "JOBYARD_OUTAGE_RETRY_MAX_SECONDS": "2",
    "JOBYARD_MONGODB_TIMEOUT_MS": "2000",
    "JOBYARD_SCHEDULER_TICK_SECONDS": "0.2",
    "JOBYARD_SCHEDULER_LEASE_MS": "2000",
    "JOBYARD_SCHEDULER_REQUEUE_AFTER_SECONDS": "2",
    "JOBYARD_SCHEDULER_SWEEP_SECONDS": "1",
    "JOBYARD_TASK_RETRY_BASE_MS": "50",
    "JOBYARD_TASK_RETRY_MAX_MS": "200",
    "JOBYARD_TASK_STALE_GRACE_SECONDS": "1",
    "JOBYARD_IMPORT_MIN_BACKOFF_MS": "50",
    "JOBYARD_IMPORT_MAX_BACKOFF_MS": "200",
    "JOBYARD_FEED_FETCH_BACKOFF_SECONDS": "0.05",
    "JOBYARD_EGRESS_ALLOWED_HOSTS": "127.0.0.2",
}


@pytest.fixture
def mongo(tmp_path: Path) -> Iterator[MongoServer]:
    server = MongoServer(tmp_path / "mongo", tmp_path / "mongo.log").start()
    yield server
    server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[KillableRedis]:
    server = KillableRedis(tmp_path / "redis", tmp_path / "redis.log").begin()
    yield server
    server.stop()


def fault_env(mongodb_url: str, redis_url: str) -> dict[str, str]:
    token = uuid.uuid4().hex[:10]
    return {
        "JOBYARD_MONGODB_URL": mongodb_url,
        "JOBYARD_MONGODB_DATABASE": f"f_{token}",
        "JOBYARD_REDIS_URL": redis_url,
        "JOBYARD_REDIS_KEY_PREFIX": f"f:{token}:",
        "JOBYARD_ENVIRONMENT": "test",
        "JOBYARD_LOG_LEVEL": "INFO",
        **FAST_RECOVERY,
    }
