"""The servers a benchmark runs against.

MongoDB: ``JOBYARD_MONGODB_URL`` when set (a real MongoDB); else one of SecantusDB's servers
in its own process, as ``make run`` runs them: ``python`` (secantusd-py) or ``rust``
(secantusd-rs, built by ``make secantus``). Redis: as in the tests.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from jobyard_devstack.embedded_mongo import embedded_url, mongo_answers, rust_server, server_command
from jobyard_devstack.net import free_port, wait_until

from tests.support.infra import redis_for_tests

__all__ = [
    "SERVERS",
    "cpu_seconds",
    "machine_cpu_seconds",
    "mongodb_for_bench",
    "redis_for_tests",
    "servers_here",
]
SERVERS = ("python", "rust")


def servers_here(asked: list[str]) -> list[str]:
    """The servers asked for that this machine has (a real MongoDB counts as one: ``real``)."""
    if os.environ.get("JOBYARD_MONGODB_URL"):
        return ["real"]
    return [name for name in asked if name == "python" or rust_server() is not None]


@contextlib.contextmanager
def mongodb_for_bench(tmp: Path, server: str = "python") -> Iterator[str]:
    if os.environ.get("JOBYARD_MONGODB_URL"):
        yield os.environ["JOBYARD_MONGODB_URL"]
        return
    port = free_port()
    name, command, _ = server_command(server, port, tmp / f"mongo-{server}")
    url = embedded_url(port)
    with (tmp / f"mongo-{server}.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: mongo_answers(url), timeout=60, what=f"MongoDB ({name})")
        yield url
    finally:
        process.terminate()
        process.wait(30)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process ``pid`` and every live descendant, from ``/proc``:
    a worker's parent and its Dramatiq processes together."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent and child not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(times.get(p, 0.0) for p in tree)


def machine_cpu_seconds() -> float:
    """CPU time every process on the machine has used so far, all cores summed, from
    ``/proc/stat``: user, nice, system, irq and softirq (not idle, I/O wait nor the time
    the hypervisor stole). Around a run, divided by its tasks: what a task costs the
    machine, the platform, its database, Redis and the benchmark's own client together."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")
