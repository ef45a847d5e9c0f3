from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from tests.support.infra import mongodb_for_tests, redis_for_tests

DEPLOY = Path(__file__).parent / "deploy"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--deploy",
        action="store_true",
        help="also collect tests/deploy: the images as containers and the chart's manifests run by "
        "podman (make test-containers), the operator on a real kube-apiserver (make test-kube)",
    )


# what a test marked ``unit`` (make test-unit) may ask for: no server, no network, no database
UNIT_FIXTURES = {"request", "tmp_path", "monkeypatch", "capsys", "caplog", "event_loop_policy"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A ``unit`` test that asks for a service fixture is a collection error naming it."""
    for item in items:
        if item.get_closest_marker("unit") is None or not isinstance(item, pytest.Function):
            continue
        params = set(item.callspec.params) if hasattr(item, "callspec") else set()
        services = set(item.fixturenames) - UNIT_FIXTURES - params
        if services:
            raise pytest.UsageError(f"{item.nodeid} is marked unit but needs {sorted(services)}")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """tests/deploy needs built images or a built kube-apiserver: its own make targets run it."""
    if not config.getoption("--deploy") and collection_path.is_relative_to(DEPLOY):
        return True
    return None


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_for_tests(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def mongodb_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mongodb_for_tests(tmp_path_factory.mktemp("mongo")) as url:
        yield url


@dataclass(frozen=True)
class Isolation:
    """This test's own database and Redis key prefix."""

    mongodb_url: str
    redis_url: str
    database: str
    key_prefix: str

    def env(self) -> dict[str, str]:
        return {
            "JOBYARD_MONGODB_URL": self.mongodb_url,
            "JOBYARD_MONGODB_DATABASE": self.database,
            "JOBYARD_REDIS_URL": self.redis_url,
            "JOBYARD_REDIS_KEY_PREFIX": self.key_prefix,
            "JOBYARD_ENVIRONMENT": "test",
            # parallel tests run several workers and schedulers: no fixed metrics ports
            "JOBYARD_WORKER_METRICS_PORT": "0",
            "JOBYARD_SCHEDULER_METRICS_PORT": "0",
            # the feeds and webhook receivers of the tests (tests/support/feed_server.py)
            "JOBYARD_EGRESS_ALLOWED_HOSTS": "127.0.0.2",
        }


@pytest.fixture
async def isolation(mongodb_url: str, redis_url: str) -> AsyncIterator[Isolation]:
    token = uuid.uuid4().hex[:12]
    iso = Isolation(mongodb_url, redis_url, f"t_{token}", f"t:{token}:")
    yield iso
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongodb_url)
    await client.drop_database(iso.database)
    await client.close()
    redis = Redis.from_url(redis_url)
    keys = [k async for k in redis.scan_iter(match=f"{iso.key_prefix}*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


@pytest.fixture
async def db(isolation: Isolation) -> AsyncIterator[Any]:
    """This test's database (PyMongo async, tz-aware)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(isolation.mongodb_url, tz_aware=True)
    yield client[isolation.database]
    await client.close()


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"
