"""Run a service's real command as a child process and wait for it to be ready."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
from jobyard_devstack.net import free_port, wait_until


def bin_path(name: str) -> str:
    return str(Path(sys.executable).parent / name)


@contextlib.contextmanager
def running_service(command: list[str], env: dict[str, str], log: Path, timeout: float = 60) -> Iterator[str]:
    """Start ``command`` on a free port (``JOBYARD_PORT``); yield its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env={**os.environ, **env, "JOBYARD_PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{command[0]} exited {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            return httpx.get(url + "/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, timeout=timeout, what=f"{command[0]} on {url}", interval=0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
