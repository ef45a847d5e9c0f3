"""Benchmark: what users would pick instead, draining the same no-op messages on the same Redis.

Raw Dramatiq (Jobyard's own queue, without Jobyard), Celery and RQ, each at their latest
release with a Redis broker and the same concurrency: ``PROCESSES`` x ``THREADS`` for
Dramatiq and Celery (thread pools), as many worker processes for RQ (its pool runs one job
at a time per worker, forking a work horse per job as RQ does by default). Each sends
``count`` messages one call at a time, as an application does, and is timed from the first
send to the last run counted. Reported as ratios to raw Dramatiq, medians over repeats.

    python -m bench.peers [--messages N] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from redis import Redis

from bench.infra import cpu_seconds, machine_cpu_seconds, redis_for_tests
from bench.results import record, summary
from tests.support.processes import bin_path

PROCESSES, THREADS = 2, 4


@dataclass(frozen=True)
class Drained:
    """One drain: its time, and the CPU the machine and the peer's workers spent in it."""

    seconds: float
    machine_cpu_seconds: float
    worker_cpu_seconds: float


@dataclass(frozen=True)
class Peer:
    name: str
    workers: Callable[[], list[list[str]]]  # the worker commands to start


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


PEERS = [
    Peer(
        "dramatiq",
        lambda: [
            _python(
                "-m",
                "dramatiq",
                "bench.raw_dramatiq",
                "--processes",
                str(PROCESSES),
                "--threads",
                str(THREADS),
            ),
        ],
    ),
    Peer(
        "celery",
        lambda: [
            _python(
                "-m",
                "celery",
                "-A",
                "bench.celery_peer",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                str(THREADS),
                "--loglevel",
                "WARNING",
                "-n",
                f"bench{i}@%h",
            )
            for i in range(PROCESSES)
        ],
    ),
    Peer(
        "celery-mongodb",
        lambda: [
            _python(
                "-m",
                "celery",
                "-A",
                "bench.celery_mongo_peer",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                str(THREADS),
                "--loglevel",
                "WARNING",
                "-n",
                f"durable{i}@%h",
            )
            for i in range(PROCESSES)
        ],
    ),
    Peer(
        "rq",
        lambda: [
            [
                bin_path("rq"),
                "worker-pool",
                "--url",
                os.environ["BENCH_REDIS_URL"],
                "--num-workers",
                str(PROCESSES * THREADS),
                "--logging-level",
                "WARNING",
                "rq-bench",
            ],
        ],
    ),
]


def _send(peer: str, count: int) -> None:
    """``count`` sends, one call each, through the peer's own client API."""
    if peer == "dramatiq":
        from bench import raw_dramatiq

        for _ in range(count):
            raw_dramatiq.noop.send()
    elif peer == "celery":
        from bench import celery_peer

        for _ in range(count):
            celery_peer.noop.delay()
    elif peer == "celery-mongodb":
        from bench import celery_mongo_peer

        for _ in range(count):
            celery_mongo_peer.noop.delay()
    else:
        from rq import Queue

        from bench import rq_peer

        queue = Queue(rq_peer.QUEUE, connection=Redis.from_url(os.environ["BENCH_REDIS_URL"]))
        for _ in range(count):
            queue.enqueue(rq_peer.noop)


def drain(peer: Peer, redis_url: str, count: int, tmp: Path, *, prefetch: int | None = None) -> Drained:
    """From the first send to the ``count``-th run, with the peer's workers already up.
    ``prefetch``: messages each worker process may hold (Dramatiq's and Celery's own knobs)."""
    os.environ["BENCH_REDIS_URL"] = redis_url  # the senders here and the workers' processes
    os.environ.setdefault("BENCH_MONGODB_URL", "mongodb://127.0.0.1:1/unused")  # the durable peer's
    counter = f"bench:{peer.name}:done"
    redis = Redis.from_url(redis_url)
    redis.delete(counter)
    env = {**os.environ, "BENCH_REDIS_URL": redis_url, "PYTHONPATH": str(Path.cwd())}
    if prefetch is not None:
        env["dramatiq_queue_prefetch"] = str(prefetch)
        env["BENCH_CELERY_PREFETCH"] = str(max(1, prefetch // THREADS))  # Celery's is per thread
    with ExitStack() as stack:
        workers = []
        for command in peer.workers():
            log = stack.enter_context((tmp / f"{peer.name}.log").open("ab"))
            worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
            stack.callback(worker.wait, 60)
            stack.callback(worker.terminate)
            workers.append(worker.pid)
        _warm_up(peer, redis, counter)

        def spent() -> tuple[float, float]:
            return machine_cpu_seconds(), sum(cpu_seconds(pid) for pid in workers)

        machine, worker_cpu = spent()
        started = time.perf_counter()
        _send(peer.name, count)
        while int(redis.get(counter) or 0) < count:
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        machine_after, worker_after = spent()
        return Drained(seconds, machine_after - machine, worker_after - worker_cpu)


def _warm_up(peer: Peer, redis: Redis, counter: str, timeout: float = 60) -> None:
    """One message through, so that start-up is not timed; then the counter starts at 0."""
    _send(peer.name, 1)
    deadline = time.monotonic() + timeout
    while int(redis.get(counter) or 0) < 1:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{peer.name}'s workers ran nothing in {timeout:.0f} s")
        time.sleep(0.02)
    redis.delete(counter)


def by_name(name: str) -> Peer:
    return next(peer for peer in PEERS if peer.name == name)


DURABLE = ("celery-mongodb",)  # need BENCH_MONGODB_URL: measured by bench.tasks, on each server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {peer.name: [] for peer in PEERS if peer.name not in DURABLE}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        redis_url = stack.enter_context(redis_for_tests(tmp / "redis"))
        for _ in range(args.repeats):  # alternated, so a slower phase of the machine hits each
            for peer in PEERS:
                if peer.name in DURABLE:
                    continue
                rates[peer.name].append(args.messages / drain(peer, redis_url, args.messages, tmp).seconds)
    baseline = statistics.median(rates["dramatiq"])
    results = {
        "messages": args.messages,
        "repeats": args.repeats,
        "processes": PROCESSES,
        "threads": THREADS,
        "messagesPerSecond": {name: summary(values) for name, values in rates.items()},
        "ratioToRawDramatiq": {name: statistics.median(values) / baseline for name, values in rates.items()},
    }
    record("peers", results)
    sys.stdout.write(
        f"{args.messages:,} no-op messages x {args.repeats}, send -> drain (median [min, max]):\n"
    )
    for name, values in rates.items():
        sys.stdout.write(
            f"  {name:9} {statistics.median(values):8,.0f} msgs/s  [{min(values):,.0f}, {max(values):,.0f}]"
            f"  {statistics.median(values) / baseline:.2f}x raw Dramatiq\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
