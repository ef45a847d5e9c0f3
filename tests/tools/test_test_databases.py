"""The suite's databases come from where the environment says (tests/support/infra.py)."""

from __future__ import annotations

import os

import docker
from redis import Redis


def test_the_databases_are_containers_exactly_when_asked(redis_url: str, mongodb_url: str) -> None:
    """`make test-containers` runs part of the suite with JOBYARD_TEST_CONTAINERS=1: its Redis and
    MongoDB stand-in must then be containers of the named images, reached through the engine."""
    redis = Redis.from_url(redis_url)
    try:
        assert redis.ping()
    finally:
        redis.close()
    if os.environ.get("JOBYARD_TEST_CONTAINERS") != "1":
        if not os.environ.get("JOBYARD_REDIS_URL") and not os.environ.get("JOBYARD_MONGODB_URL"):
            assert "127.0.0.1" in redis_url and "127.0.0.1" in mongodb_url  # servers started here
        return
    running = {tag for container in docker.from_env().containers.list() for tag in container.image.tags}
    assert os.environ["JOBYARD_TEST_REDIS_IMAGE"] in running
    assert os.environ["JOBYARD_TEST_MONGODB_IMAGE"] in running
