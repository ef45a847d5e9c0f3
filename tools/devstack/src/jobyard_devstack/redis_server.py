"""A ``redis-server`` of the machine's, started on a port of our choosing.

Used by the tests (a throwaway server on a free port) and by ``make run`` (a persistent
server under ``.data/redis``). :func:`ensure_redis_server` installs Debian's package when
it is missing and we are root, and otherwise says what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import redis

from jobyard_devstack.net import wait_until


class RedisUnavailable(RuntimeError):
    pass


def ensure_redis_server() -> str:
    """Path of ``redis-server``, installing Debian's package if missing and root."""
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "redis-server"],
            check=True,
            env=env,
        )
        found = shutil.which("redis-server")
        if found:
            return found
    raise RedisUnavailable(
        "redis-server is not installed. Install it (Debian/Ubuntu: "
        "`sudo apt-get install redis-server`; macOS: `brew install redis`) "
        "or set JOBYARD_REDIS_URL to a Redis you have."
    )


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.3).ping())
    except (redis.RedisError, OSError):
        return False


class RedisServer:
    """One ``redis-server`` child process on loopback."""

    def __init__(self, port: int, data_dir: Path, *, persistent: bool) -> None:
        self.port = port
        self.data_dir = data_dir
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        persistence = ["--appendonly", "yes"] if self.persistent else ["--save", "", "--appendonly", "no"]
        return [
            ensure_redis_server(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.data_dir),
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            *persistence,
        ]

    def start(self, log_file: Path | None = None, timeout: float = 15) -> RedisServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        out = log_file.open("ab") if log_file else subprocess.DEVNULL
        self.process = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT)
        wait_until(self._ready, timeout=timeout, what=f"redis-server on port {self.port}")
        return self

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RedisUnavailable(f"redis-server exited with code {self.process.returncode}")
        return redis_answers(self.url)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
