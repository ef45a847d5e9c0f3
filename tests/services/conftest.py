from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.auth_service import AuthService, auth_service
from tests.support.feed_server import FeedServer


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def auth(mongodb_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthService]:
    with auth_service(mongodb_url, redis_url, tmp_path_factory.mktemp("auth")) as service:
        yield service
