"""Real Redis and a real MongoDB wire server for the tests.

Order of preference, for each: the URL in ``JOBYARD_REDIS_URL`` / ``JOBYARD_MONGODB_URL``;
containers through testcontainers when ``JOBYARD_TEST_CONTAINERS=1`` (any Docker-compatible
engine: Docker, or podman's socket as ``make test-containers`` runs it), with the images
``JOBYARD_TEST_REDIS_IMAGE`` (``redis:7-alpine``) and ``JOBYARD_TEST_MONGODB_IMAGE``
(``mongo:7``; ``make images`` builds local stand-ins of both); else a local server:
``redis-server`` on a free port, and the SecantusDB server ``JOBYARD_TEST_MONGODB`` names
(``rust``: ``secantusd-rs``, a child process; ``python``: secantusdb in this process; ``auto``,
the default: rust when ``make secantus`` built it). Nothing is mocked.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

from jobyard_devstack.embedded_mongo import (
    InProcessMongo,
    embedded_url,
    mongo_answers,
    rust_command,
    rust_server,
)
from jobyard_devstack.net import free_port, wait_until
from jobyard_devstack.redis_server import RedisServer

from tests.support.processes import stop_process


def containers_wanted() -> bool:
    """Whether to run the databases as containers; a wish no engine answers is an error."""
    if os.environ.get("JOBYARD_TEST_CONTAINERS") != "1":
        return False
    import docker

    docker.from_env(timeout=10).ping()  # raises, naming the engine it could not reach
    return True


@contextlib.contextmanager
def _container(image: str, port: int, ready: Callable[[str, int], bool]) -> Iterator[tuple[str, int]]:
    from testcontainers.core.container import DockerContainer

    with DockerContainer(image).with_exposed_ports(port) as container:
        host, mapped = container.get_container_host_ip(), int(container.get_exposed_port(port))
        wait_until(lambda: ready(host, mapped), timeout=60, what=f"{image} to answer")
        yield host, mapped


def _redis_answers(host: str, port: int) -> bool:
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        return bool(Redis(host=host, port=port, socket_timeout=1).ping())
    except RedisError:
        return False


@contextlib.contextmanager
def redis_for_tests(tmp: Path) -> Iterator[str]:
    if os.environ.get("JOBYARD_REDIS_URL"):
        yield os.environ["JOBYARD_REDIS_URL"]
    elif containers_wanted():
        with _container(
            os.environ.get("JOBYARD_TEST_REDIS_IMAGE", "redis:7-alpine"), 6379, _redis_answers
        ) as (
            host,
            port,
        ):
            yield f"redis://{host}:{port}/0"
    else:
        server = RedisServer(free_port(), tmp, persistent=False).start()
        try:
            yield server.url
        finally:
            server.stop()


def embedded_url_of(host: str, port: int) -> str:
    return f"mongodb://{host}:{port}/?directConnection=true&retryWrites=false"


@contextlib.contextmanager
def mongodb_for_tests(tmp: Path) -> Iterator[str]:
    if os.environ.get("JOBYARD_MONGODB_URL"):
        yield os.environ["JOBYARD_MONGODB_URL"]
    elif containers_wanted():
        image = os.environ.get("JOBYARD_TEST_MONGODB_IMAGE", "mongo:7")
        with _container(image, 27017, lambda h, p: mongo_answers(embedded_url_of(h, p))) as (host, port):
            yield embedded_url_of(host, port)
    elif test_mongodb_server() == "rust":
        with rust_mongodb(tmp) as url:
            yield url
    else:
        server = InProcessMongo(tmp).start()
        try:
            yield server.url
        finally:
            server.stop()


def test_mongodb_server() -> str:
    """``rust`` or ``python``: which local SecantusDB server the tests run on."""
    wanted = os.environ.get("JOBYARD_TEST_MONGODB", "auto")
    if wanted not in ("auto", "rust", "python"):
        raise ValueError(f"JOBYARD_TEST_MONGODB must be auto, rust or python, not {wanted!r}")
    if wanted == "auto":
        return "rust" if rust_server() is not None else "python"
    return wanted


@contextlib.contextmanager
def rust_mongodb(tmp: Path) -> Iterator[str]:
    """``secantusd-rs`` on a free port with its data in ``tmp``, for as long as the block runs."""
    port = free_port()
    with (tmp / "secantusd-rs.log").open("ab") as log:
        process = subprocess.Popen(rust_command(port, tmp), stdout=log, stderr=subprocess.STDOUT)
    url = embedded_url(port)
    try:
        wait_until(lambda: mongo_answers(url), timeout=60, what=f"secantusd-rs on port {port}")
        yield url
    finally:
        stop_process(process)
