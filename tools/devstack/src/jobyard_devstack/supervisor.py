"""Child processes of ``make run``: start, restart when they crash, stop, clean leftovers.

Like docker-compose's ``restart: unless-stopped``: a service that exits on its own is
started again after a backoff (1 s, 2 s, 4 s… up to 30 s; back to 1 s once it has run a
minute), and the stack stops only when asked (Ctrl-C). Every child's pid goes to
``<data>/run/<name>.pid``; the next run stops whatever an earlier one left behind, in any
state (alive, stopping, killed; pid files half-written or vanishing), before it starts.

Nothing outlives the supervisor, whenever it stops: a child is started and recorded with
Ctrl-C held back (:class:`Interrupts`: an interrupt never falls between the two), and
each child is told by the kernel to stop (SIGTERM) the moment its supervisor dies, even by
SIGKILL (``setpriv --pdeathsig``, util-linux).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

RESTART_CAP_SECONDS = 30.0
HEALTHY_AFTER_SECONDS = 60.0
Say = Callable[[str], None]


# Run after the death signal is set: a parent that died before that (so the signal will never
# come) is no longer this process's parent, and the command is not started at all.
STILL_OURS = 'test "$PPID" = "$1" || exit 70; shift; exec "$@"'


def dies_with_parent(command: list[str]) -> list[str]:
    """``command``, sent SIGTERM by the kernel when the process that started it dies (also
    when it dies between the fork and the moment the signal is set)."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return command
    return [
        setpriv,
        "--pdeathsig",
        "TERM",
        "--",
        "/bin/sh",
        "-c",
        STILL_OURS,
        "sh",
        str(os.getpid()),
        *command,
    ]


class Interrupts:
    """Ctrl-C, held back while something must not be cut in two, and raised right after.

    (Not a blocked signal mask: children inherit the mask across exec, and would then never
    hear their SIGTERM.)
    """

    def __init__(self) -> None:
        self._held = 0
        self._pending = False

    def interrupt(self) -> None:
        """From the signal handler: stop now, or as soon as what is held back is done."""
        if self._held:
            self._pending = True
            return
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def held_back(self) -> Iterator[None]:
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            if not self._held and self._pending:
                self._pending = False
                raise KeyboardInterrupt


@dataclass
class Child:
    name: str
    command: list[str]
    env: dict[str, str]
    log_file: Path
    process: subprocess.Popen[bytes]
    started_at: float = field(default_factory=time.monotonic)
    restarts: int = 0
    restart_at: float | None = None  # when a crashed child is due to start again


@dataclass
class Supervisor:
    run_dir: Path
    log_dir: Path
    children: list[Child] = field(default_factory=list)
    interrupts: Interrupts = field(default_factory=Interrupts)

    def __post_init__(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def _spawn(
        self, name: str, command: list[str], env: dict[str, str], log_file: Path
    ) -> subprocess.Popen[bytes]:
        with log_file.open("ab") as out:
            process = subprocess.Popen(
                dies_with_parent(command),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        pid_file = self.run_dir / f"{name}.pid"
        partial = pid_file.with_suffix(".pid.tmp")
        partial.write_text(str(process.pid))
        partial.replace(pid_file)  # atomic: a reader never sees half a pid
        return process

    def start(self, name: str, command: list[str], env: dict[str, str]) -> Child:
        log_file = self.log_dir / f"{name}.log"
        with self.interrupts.held_back():  # an interrupt cannot fall between starting a child and knowing it
            child = Child(name, command, env, log_file, self._spawn(name, command, env, log_file))
            self.children.append(child)
        return child

    def exited(self) -> Child | None:
        return next((c for c in self.children if c.restart_at is None and c.process.poll() is not None), None)

    def keep_alive(self, say: Say) -> None:
        """Restart children that exited, each after its backoff; call it every fraction of a second."""
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is None and child.process.poll() is not None:
                if now - child.started_at >= HEALTHY_AFTER_SECONDS:
                    child.restarts = 0  # it ran fine for a while: this crash starts the count again
                delay = min(RESTART_CAP_SECONDS, 2.0**child.restarts)
                child.restart_at = now + delay
                say(
                    f"  {child.name} exited with code {child.process.returncode}; restarting in {delay:.0f} s "
                    f"(see {child.log_file})"
                )
            elif child.restart_at is not None and now >= child.restart_at:
                with self.interrupts.held_back():
                    child.process = self._spawn(child.name, child.command, child.env, child.log_file)
                    child.started_at, child.restart_at = now, None
                child.restarts += 1

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
        """Stop processes an earlier run left behind, whatever state it is in; their names."""
        stopped = []
        for pid_file in sorted(self.run_dir.glob("*.pid*")):
            pid = _read_pid(pid_file)
            if pid is not None and _is_ours(pid):
                _terminate(pid)
                stopped.append(pid_file.name.split(".pid")[0])
            with contextlib.suppress(FileNotFoundError):
                pid_file.unlink()
        return stopped


def _read_pid(pid_file: Path) -> int | None:
    """The pid in a file that may be half-written, empty, or gone by now."""
    try:
        text = pid_file.read_text().strip()
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        return None
    return int(text) if text.isdigit() else None


def _is_ours(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return any(word in cmdline for word in (b"jobyard", b"secantusd", b"redis-server"))


def _terminate(pid: int, timeout: float = 10) -> None:
    """Stop a leftover and every process of its group (it was started in a session of its own).

    A leftover may already be stopping (a previous run's Ctrl-C in progress): it is given
    the same time to finish, then killed with its group.
    """
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
