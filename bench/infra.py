"""The servers a benchmark runs against.

MongoDB: ``JOBYARD_MONGODB_URL`` when set (a real MongoDB); else the embedded server in its
own process, as ``make run`` runs it, so that it does not share the benchmark driver's
interpreter (the tests run it in-process). Redis: as in the tests.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from jobyard_devstack.embedded_mongo import daemon_command, embedded_url, mongo_answers
from jobyard_devstack.net import free_port, wait_until

from tests.support.infra import redis_for_tests

__all__ = ["mongodb_for_bench", "redis_for_tests"]


@contextlib.contextmanager
def mongodb_for_bench(tmp: Path) -> Iterator[str]:
    if os.environ.get("JOBYARD_MONGODB_URL"):
        yield os.environ["JOBYARD_MONGODB_URL"]
        return
    port = free_port()
    storage = tmp / "mongo"
    storage.mkdir(parents=True, exist_ok=True)
    url = embedded_url(port)
    with (tmp / "mongo.log").open("wb") as log:
        server = subprocess.Popen(daemon_command(port, storage), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: mongo_answers(url), timeout=60, what="the embedded MongoDB server")
        yield url
    finally:
        server.terminate()
        server.wait(30)
