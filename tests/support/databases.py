"""Databases the fault suite can kill and bring back: a MongoDB wire server and a Redis.

Each is a child process on a loopback port of its own, with its data in a folder of its
own, so a test can SIGKILL it mid-work and start it again on the same port and data.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
from pathlib import Path
from typing import Any

from jobyard_devstack.embedded_mongo import daemon_command, embedded_url, mongo_answers
from jobyard_devstack.net import free_port, wait_until
from jobyard_devstack.redis_server import RedisServer, redis_answers
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from tests.support.processes import stop_process

ROOT = Path(__file__).resolve().parents[2]
RUST_SERVER = ROOT / ".tools/secantus/bin/secantusd-rs"


class MongoServer:
    """The fastest MongoDB wire server this machine has (the Rust one when built)."""

    def __init__(self, storage: Path, log: Path) -> None:
        self.port = free_port()
        self.storage = storage
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return embedded_url(self.port)

    def command(self) -> list[str]:
        if RUST_SERVER.exists():
            # --sync-on-commit: an acknowledged write survives the SIGKILL, as one acknowledged
            # by a majority of a replica set (w=majority, which production uses) survives a node
            return [
                str(RUST_SERVER),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--storage-path",
                str(self.storage),
                "--sync-on-commit",
            ]
        return daemon_command(self.port, self.storage)

    def start(self, timeout: float = 60) -> MongoServer:
        self.storage.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT)
        wait_until(lambda: mongo_answers(self.url), timeout=timeout, what=f"MongoDB on port {self.port}")
        return self

    def kill(self) -> None:
        """SIGKILL: no goodbye, as a crashed node or a lost machine.

        What was acknowledged survives, as writes acknowledged by a majority of a replica set
        (production's w=majority) survive a node: the Rust server syncs every commit; the
        Python one is asked to sync first.
        """
        if not RUST_SERVER.exists():
            client: MongoClient[dict[str, Any]]
            with (
                contextlib.suppress(PyMongoError),
                MongoClient(self.url, serverSelectionTimeoutMS=2000) as client,
            ):
                client.admin.command("fsync")
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)
        wait_until(lambda: not mongo_answers(self.url), timeout=30, what="MongoDB to be gone")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop_process(self.process)


class KillableRedis(RedisServer):
    """A Redis of the test's own (not persistent: a restart loses what it held, the worst case)."""

    def __init__(self, data_dir: Path, log: Path, *, persistent: bool = False) -> None:
        super().__init__(free_port(), data_dir, persistent=persistent)
        self.log = log

    def begin(self) -> KillableRedis:
        self.start(self.log)
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)
        wait_until(lambda: not redis_answers(self.url), timeout=30, what="Redis to be gone")
