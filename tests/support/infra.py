"""Real Redis and a real MongoDB wire server for the tests.

Order of preference, for each: the URL in ``JOBYARD_REDIS_URL`` / ``JOBYARD_MONGODB_URL``;
testcontainers when a Docker engine answers; else a local server (``redis-server`` on a
free port, secantusdb in-process in a temp dir). Nothing is mocked.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from jobyard_devstack.embedded_mongo import InProcessMongo
from jobyard_devstack.net import free_port
from jobyard_devstack.redis_server import RedisServer


def docker_answers() -> bool:
    if not (os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists()):
        return False
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:  # no engine, no permission, no SDK: all mean "no Docker"
        return False
    return True


@contextlib.contextmanager
def redis_for_tests(tmp: Path) -> Iterator[str]:
    if os.environ.get("JOBYARD_REDIS_URL"):
        yield os.environ["JOBYARD_REDIS_URL"]
    elif docker_answers():
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7-alpine") as container:
            host, port = container.get_container_host_ip(), container.get_exposed_port(6379)
            yield f"redis://{host}:{port}/0"
    else:
        server = RedisServer(free_port(), tmp, persistent=False).start()
        try:
            yield server.url
        finally:
            server.stop()


@contextlib.contextmanager
def mongodb_for_tests(tmp: Path) -> Iterator[str]:
    if os.environ.get("JOBYARD_MONGODB_URL"):
        yield os.environ["JOBYARD_MONGODB_URL"]
    elif docker_answers():
        from testcontainers.mongodb import MongoDbContainer

        with MongoDbContainer("mongo:7") as container:
            yield container.get_connection_url()
    else:
        server = InProcessMongo(tmp).start()
        try:
            yield server.url
        finally:
            server.stop()
