"""``jobyard-worker``: run Dramatiq's worker on Jobyard's actors.

Processes, threads, queues and prefetch come from settings (flags override them); the
rest of Dramatiq's CLI flags pass through. SIGTERM lets in-flight messages finish (up
to Dramatiq's shutdown timeout); unacknowledged messages are redelivered, never lost.
SIGUSR1 makes each worker process log where its threads and coroutines wait.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from jobyard_libs.cli import load_settings

from jobyard_worker.metrics import prepare_multiprocess_dir
from jobyard_worker.settings import WorkerSettings


def dramatiq_command(settings: WorkerSettings, extra: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dramatiq",
        "jobyard_worker.entrypoint:broker",
        "--skip-logging",
        "--processes",
        str(settings.worker_processes),
        "--threads",
        str(settings.worker_threads),
        "--queues",
        *[q.value for q in settings.worker_queues],
        *extra,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobyard-worker", description=__doc__)
    parser.add_argument("--processes", type=int)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--queues", nargs="+")
    args, extra = parser.parse_known_args(argv)
    overrides = {
        k: v
        for k, v in {
            "worker_processes": args.processes,
            "worker_threads": args.threads,
            "worker_queues": args.queues,
        }.items()
        if v is not None
    }
    settings = load_settings(WorkerSettings, "jobyard-worker", **overrides)
    # An idle consumer backs off exponentially up to this between polls of its queue.
    os.environ["dramatiq_worker_timeout"] = str(settings.worker_idle_poll_max_ms)  # noqa: SIM112 - Dramatiq's name
    # one per thread unless set: a message waits in a busy worker's buffer only if asked to
    prefetch = settings.worker_prefetch or settings.worker_threads
    os.environ["dramatiq_queue_prefetch"] = str(prefetch)  # noqa: SIM112 - the name Dramatiq reads
    # the processes Dramatiq forks read their settings again: their thread count too
    os.environ["JOBYARD_WORKER_THREADS"] = str(settings.worker_threads)
    if settings.worker_metrics_port:
        prepare_multiprocess_dir(Path(settings.worker_metrics_dir))
    command = dramatiq_command(settings, extra)
    # SIGUSR1 dumps a worker process's stacks (jobyard_worker.stacks); ignored, as exec keeps
    # it, by Dramatiq's parent and its metrics fork, which a signal to the group reaches too
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    os.execv(command[0], command)  # noqa: S606 - replaces this process with Dramatiq's CLI


if __name__ == "__main__":
    sys.exit(main())
