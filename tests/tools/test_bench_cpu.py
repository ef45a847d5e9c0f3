"""The benchmarks' CPU accounting (``bench.infra``): what ``cpuMsPerTask`` is built from."""

from __future__ import annotations

import os
import time

from bench.infra import cpu_seconds, machine_cpu_seconds


def test_the_machine_figure_counts_the_cpu_a_process_spends() -> None:
    machine, own, started = machine_cpu_seconds(), time.process_time(), time.monotonic()
    # busy: CPU this process spends, which the machine's figure must hold
    while time.process_time() - own < 0.3:
        pass
    spent_machine, spent_own = machine_cpu_seconds() - machine, time.process_time() - own
    elapsed = time.monotonic() - started
    # ticks of 10 ms on each side; and never more than every core's wall time
    assert spent_own - 0.05 <= spent_machine <= elapsed * (os.cpu_count() or 1) + 0.05


def test_a_process_tree_figure_counts_this_process() -> None:
    before, own = cpu_seconds(os.getpid()), time.process_time()
    while time.process_time() - own < 0.2:
        pass
    assert cpu_seconds(os.getpid()) - before >= 0.15
