"""Worker processes a fault test can kill, freeze and thaw: each in a process group of its
own, so a signal to the group reaches every process it forked."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from jobyard_devstack.net import free_port, wait_until

from tests.support.processes import answers, bin_path
from tests.support.stack import Stack

GENEROUS = 120.0
STOP_SECONDS = 30
_LOGS: dict[int, Path] = {}  # each worker's log, by pid


def until(condition: Callable[[], bool], what: str) -> None:
    wait_until(condition, timeout=GENEROUS, what=what, interval=0.05)


def worker(
    stack: Stack, log: Path, metrics_port: int = 0, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``jobyard-worker`` (1 process, 4 threads) on the stack's settings, and ``env``'s."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [bin_path("jobyard-worker"), "--processes", "1", "--threads", "4"],
            env={**os.environ, **stack.env, "JOBYARD_WORKER_METRICS_PORT": str(metrics_port), **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _LOGS[process.pid] = log
    return process


def frozen_replacement(stack: Stack, tmp_path: Path) -> subprocess.Popen[bytes]:
    """A second replica, up and then frozen: work goes to the doomed worker alone until the
    test lets this one go on (SIGCONT), however slow either start is."""
    port = free_port()
    replacement = worker(stack, tmp_path / "worker.log", metrics_port=port)
    until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), "the replacement worker")
    os.killpg(replacement.pid, signal.SIGSTOP)
    return replacement


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as Kubernetes stops a pod. A worker still up after ``STOP_SECONDS`` has an
    attempt that does not end: it logs where it waits (SIGUSR1), is killed, and the test fails
    naming its log."""
    os.killpg(process.pid, signal.SIGCONT)
    process.terminate()
    try:
        process.wait(STOP_SECONDS)
        return
    except subprocess.TimeoutExpired:
        log = _LOGS.get(process.pid)
        os.killpg(process.pid, signal.SIGUSR1)
        if log is not None:
            until(lambda: "worker_stacks_done" in log.read_text(errors="replace"), "its stacks")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(GENEROUS)
    raise AssertionError(f"the worker did not stop in {STOP_SECONDS} s: where it waited is in {log}")
