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


ROOT = Path(__file__).resolve().parents[4]
BUILT_RUST = ROOT / ".tools" / "secantus" / "bin" / "secantusd-rs"  # tools/secantus/install.sh


def rust_server() -> Path | None:
    """SecantusDB's Rust server (``secantusd-rs``): on the PATH, or built by ``make secantus``."""
    found = shutil.which("secantusd-rs")
    if found:
        return Path(found)
    return BUILT_RUST if BUILT_RUST.exists() else None


def rust_command(port: int, storage: Path, *, sync_on_commit: bool = False) -> list[str]:
    """The Rust server's command. ``sync_on_commit``: every acknowledged write is on disk (what
    a kill -9 must not lose), at the cost of an fsync a commit."""
    server = rust_server()
    if server is None:
        raise FileNotFoundError("secantusd-rs is neither on the PATH nor built (make secantus)")
    command = [str(server), "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(storage)]
    return [*command, "--sync-on-commit"] if sync_on_commit else command


def server_command(kind: str, port: int, data_dir: Path) -> tuple[str, list[str], Path]:
    """``kind``: ``python``, ``rust``, or ``auto`` (Rust when there is one); the server's name,
    command and storage folder under ``data_dir`` (one each: their files differ)."""
    if kind == "rust" or (kind == "auto" and rust_server() is not None):
        storage = data_dir / "mongo-rust"
        storage.mkdir(parents=True, exist_ok=True)
        return "secantusd-rs", rust_command(port, storage), storage
    storage = data_dir / "mongo"
    storage.mkdir(parents=True, exist_ok=True)
    return "secantusd-py", daemon_command(port, storage), storage


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
