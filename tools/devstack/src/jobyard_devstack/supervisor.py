"""Child processes of ``make run``: start, watch, stop in reverse order, clean leftovers.

Every child's pid goes to ``<data>/run/<name>.pid``; the next run stops any that a
crashed or killed run left behind before it starts anything.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_file: Path


@dataclass
class Supervisor:
    run_dir: Path
    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, command: list[str], env: dict[str, str]) -> Child:
        log_file = self.log_dir / f"{name}.log"
        with log_file.open("ab") as out:
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        (self.run_dir / f"{name}.pid").write_text(str(process.pid))
        child = Child(name, process, log_file)
        self.children.append(child)
        return child

    def exited(self) -> Child | None:
        return next((c for c in self.children if c.process.poll() is not None), None)

    def stop_all(self, timeout: float = 10) -> None:
        """Stop children one at a time, newest first: services before their databases.

        SIGTERM goes to the child alone (the worker's Dramatiq forwards it to the processes
        it forked); whatever is left of the child's process group then gets SIGKILL.
        """
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.process.wait(timeout)
            _kill_group(child.process.pid)
            child.process.wait()
            (self.run_dir / f"{child.name}.pid").unlink(missing_ok=True)
        self.children.clear()

    def stop_leftovers(self) -> list[str]:
        """Stop processes a previous run left behind; return their names."""
        stopped = []
        for pid_file in self.run_dir.glob("*.pid"):
            try:
                pid = int(pid_file.read_text().strip())
            except ValueError:
                pid_file.unlink()
                continue
            if _is_ours(pid):
                _terminate(pid)
                stopped.append(pid_file.stem)
            pid_file.unlink(missing_ok=True)
        return stopped


def _is_ours(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return any(word in cmdline for word in (b"jobyard", b"secantusd", b"redis-server"))


def _terminate(pid: int, timeout: float = 10) -> None:
    """Stop a leftover and every process of its group (it was started in a session of its own)."""
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.1)
    except ProcessLookupError:
        pass
    _kill_group(pid)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
