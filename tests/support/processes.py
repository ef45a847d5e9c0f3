"""Run a service's real command as a child process and wait for it to be ready."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
from jobyard_devstack.net import free_port, wait_until


def bin_path(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def stop_process(process: subprocess.Popen[bytes], wait: float = 15) -> None:
    """SIGTERM, then SIGKILL if it is still there after ``wait`` seconds."""
    process.terminate()
    try:
        process.wait(wait)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def running_process(
    command: list[str], env: dict[str, str], log: Path, ready_url: str, timeout: float = 60
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command`` (its output into ``log``) until ``ready_url`` answers 200; stop it after."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{command[0]} exited {process.returncode}:\n{log.read_text()[-3000:]}")
        return answers(ready_url)

    try:
        wait_until(ready, timeout=timeout, what=f"{command[0]} at {ready_url}", interval=0.1)
        yield process
    finally:
        stop_process(process)


@contextlib.contextmanager
def running_service(command: list[str], env: dict[str, str], log: Path, timeout: float = 60) -> Iterator[str]:
    """Start an HTTP service on a free port (``JOBYARD_PORT``) until its /readyz answers; yield its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running_process(command, {**env, "JOBYARD_PORT": str(port)}, log, f"{url}/readyz", timeout):
        yield url


def stop_gracefully(process: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM to PID 1 only, as Kubernetes does (Dramatiq forwards it); then sweep the group."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(60)
    except subprocess.TimeoutExpired:
        return None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # nothing of the test may outlive it


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (Dramatiq forks its worker processes)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo += [int(child) for child in (task / "children").read_text().split()]
    return found


def peak_rss_bytes(pid: int) -> int:
    """The highest peak resident set (``VmHWM``) among ``pid`` and its descendants."""
    peaks = [0]
    for process in descendants(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{process}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) * 1024)
    return max(peaks)
