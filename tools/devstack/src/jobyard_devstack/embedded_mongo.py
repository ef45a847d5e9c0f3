"""The embedded MongoDB-wire-compatible server (secantusdb).

In-process for the tests (:func:`start_in_process`), a child process (``secantusd-py``)
for ``make run`` so that Ctrl-C and leftovers are handled like every other service.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError


def embedded_url(port: int) -> str:
    """The embedded server's connection string, without retryable writes.

    A single embedded server gains nothing from retryable writes (no failover to retry
    across), and it keeps a registry of them that it prunes on every write: 17% of its CPU
    under the task benchmark.
    """
    return f"mongodb://127.0.0.1:{port}/?retryWrites=false"


def mongo_answers(url: str) -> bool:
    try:
        client: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=300)
        try:
            client.admin.command("ping")
        finally:
            client.close()
    except PyMongoError:
        return False
    return True


def daemon_command(port: int, storage: Path) -> list[str]:
    executable = shutil.which("secantusd-py") or str(Path(sys.executable).parent / "secantusd-py")
    return [executable, "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(storage)]


class InProcessMongo:
    """secantusdb's server in this process, on a free port."""

    def __init__(self, storage: Path) -> None:
        from secantus import SecantusDBServer

        self._server = SecantusDBServer(host="127.0.0.1", port=0, storage_path=str(storage))

    def start(self) -> InProcessMongo:
        self._server.start()
        return self

    @property
    def url(self) -> str:
        return embedded_url(self._server.port)

    def stop(self) -> None:
        self._server.stop()
