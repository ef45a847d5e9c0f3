"""``make run`` (``jobyard-dev up``) started by a test, on free ports, in a temporary folder."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jobyard_devstack.net import free_port

from tests.support.processes import bin_path


class DevStack:
    def __init__(self, data_dir: Path, redis_url: str) -> None:
        self.data_dir = data_dir
        self.auth_port = free_port()
        self.api_port = free_port()
        self.console_port = free_port()
        self.env = {
            **os.environ,
            "JOBYARD_DEV_DATA_DIR": str(data_dir),
            "JOBYARD_DEV_MONGODB_PORT": str(free_port()),
            "JOBYARD_DEV_AUTH_PORT": str(self.auth_port),
            "JOBYARD_DEV_API_PORT": str(self.api_port),
            "JOBYARD_DEV_CONSOLE_PORT": str(self.console_port),
            "JOBYARD_DEV_MONITOR_PORT": str(free_port()),
            "JOBYARD_DEV_FEEDS_PORT": str(free_port()),
            "JOBYARD_DEV_SAMPLE_FEEDS_DIR": str(Path(__file__).resolve().parents[1] / "fixtures" / "feeds"),
            "JOBYARD_REDIS_URL": redis_url,
            "JOBYARD_REDIS_KEY_PREFIX": f"devstack{free_port()}:",
            "JOBYARD_WORKER_METRICS_PORT": str(free_port()),
            "JOBYARD_SCHEDULER_METRICS_PORT": str(free_port()),
        }
        for name in ("JOBYARD_MONGODB_URL", "JOBYARD_ADMIN_PASSWORD", "JOBYARD_ADMIN_EMAIL", "JOBYARD_FEEDS"):
            self.env.pop(name, None)
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def up(self) -> str:
        self.start()
        return self.read_until("Ctrl-C stops everything")

    def start(self) -> None:
        self.output = []
        self.process = subprocess.Popen(
            [bin_path("jobyard-dev"), "up"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def read_until(self, prefix: str) -> str:
        """Its output up to the first line starting with ``prefix`` (after blanks)."""
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + 300  # generous: a loaded machine starts everything slower
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                break
            self.output.append(line)
            if line.strip().startswith(prefix):
                return "".join(self.output)
        raise AssertionError(f"jobyard-dev up never said {prefix!r}:\n" + "".join(self.output))

    @property
    def ports(self) -> list[int]:
        return [int(v) for k, v in self.env.items() if k.startswith("JOBYARD_DEV_") and k.endswith("_PORT")]

    def processes_left(self) -> list[str]:
        """Processes started for this stack that still run (they carry its data folder in their
        environment): each as ``pid command``."""
        marker = f"JOBYARD_DEV_DATA_DIR={self.data_dir}".encode()
        left = []
        for proc in Path("/proc").iterdir():
            with contextlib.suppress(OSError):
                if not proc.name.isdigit() or marker not in (proc / "environ").read_bytes().split(b"\0"):
                    continue
                if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                    continue  # a zombie its parent has yet to reap: gone in all but name
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                left.append(f"{proc.name} {command[:120]}")
        return left

    def stop(self, sig: int = signal.SIGINT, times: int = 1) -> int:
        assert self.process is not None
        for _ in range(times):  # a terminal's Ctrl-C arrives twice: the group's and uv's
            self.process.send_signal(sig)
        code = self.process.wait(60)
        if self.process.stdout:
            self.output.append(self.process.stdout.read())
        return code

    def kill_leftovers(self) -> None:
        """Stop the stack as Ctrl-C would; then kill what is left, each service with the
        processes it forked (each runs in its own process group: a worker's children too)."""
        if self.process and self.process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.stop(signal.SIGINT, times=2)
            if self.process.poll() is None:
                self.stop(signal.SIGKILL)
        for pid_file in (self.data_dir / "run").glob("*.pid"):
            with contextlib.suppress(ProcessLookupError, PermissionError, ValueError, FileNotFoundError):
                os.killpg(int(pid_file.read_text()), signal.SIGKILL)


@contextmanager
def dev_stack(data_dir: Path, redis_url: str) -> Iterator[DevStack]:
    stack = DevStack(data_dir, redis_url)
    try:
        yield stack
    finally:
        stack.kill_leftovers()


def admin_password(banner: str) -> str:
    line = next(line for line in banner.splitlines() if line.strip().startswith("admin"))
    return line.split("/")[-1].strip()
