"""Benchmark: task throughput, round trips and latency, on each MongoDB-compatible server.

Throughput: ``noop`` tasks submitted through ``POST /api/v1/tasks:batch`` (1,000 a request)
→ executed by ``jobyard-worker`` → every execution record ``completed``. Against, in the same
run, on the same Redis and with the same processes, threads and prefetch: raw Dramatiq (no
record of anything) and Celery with its MongoDB result backend on the same MongoDB server
(each result stored: what Jobyard does).

Round trips: the MongoDB commands and the documents written per task, summed over the api
and every worker process (``jobyard_mongodb_commands_total`` and
``jobyard_mongodb_documents_written_total`` on their ``/metrics``), for batches and for
single submits.

Latency: single ``noop`` tasks submitted through ``POST /api/v1/tasks`` at a steady rate
(each rate in turn); each one's latency is its execution's ``completedAt`` minus the moment
its request was sent.

Exits 0 when it measured, whether or not the targets are met: ``make bench`` reports
every benchmark, and docs/performance.md says which targets are missed and why.

    python -m bench.tasks [--servers python rust] [--tasks N] [--repeats R] [--rates PER_SECOND ...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from bson import ObjectId
from jobyard_devstack.net import free_port, wait_until
from jobyard_libs.redis_client import RedisKeys
from jobyard_libs.tasks.stats import TaskStats
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from bench.infra import (
    SERVERS,
    cpu_seconds,
    machine_cpu_seconds,
    mongodb_for_bench,
    redis_for_tests,
    servers_here,
)
from bench.peers import PROCESSES, THREADS, Drained, by_name, drain
from bench.results import record, summary
from tests.conftest import Isolation
from tests.support.auth_service import auth_service
from tests.support.processes import bin_path, running_service

TARGET_RATIO = 0.5
TARGET_DURABLE_RATIO = 1.5
TARGET_P99_MS = 100.0
BATCH = 1000
PREFETCH = 64  # raised from Dramatiq's 2 x threads, for Jobyard and raw Dramatiq alike
WAIT_LIMIT_SECONDS = 900
IDLE_WINDOW_SECONDS = 3.0
COUNTED = ("jobyard_mongodb_commands_total", "jobyard_mongodb_documents_written_total")


@dataclass
class Platform:
    api: str
    headers: dict[str, str]
    mongodb_url: str
    database: str
    redis_url: str
    prefix: str
    worker_metrics: str
    worker_pid: int

    def round_trips(self) -> dict[str, float]:
        """MongoDB commands and documents written so far, by the api and every worker process."""
        totals = dict.fromkeys(COUNTED, 0.0)
        for url in (f"{self.api}/metrics", self.worker_metrics):
            for line in httpx.get(url, timeout=30).text.splitlines():
                name = line.split("{", 1)[0].split(" ", 1)[0]
                if name in totals and not line.startswith("#"):
                    totals[name] += float(line.rsplit(" ", 1)[1])
        totals["workerCpuSeconds"] = cpu_seconds(self.worker_pid)
        totals["machineCpuSeconds"] = machine_cpu_seconds()
        return totals

    async def completed(self) -> int:
        """Finished ``noop`` executions, from the task stats the worker keeps in Redis.

        Polling ``count_documents`` instead would scan the executions on every poll and
        slow down the very workers it waits for.
        """
        redis = Redis.from_url(self.redis_url)
        try:  # counters only: a poll must cost next to nothing
            return await TaskStats(redis, RedisKeys(self.prefix)).count(
                "noop", "completed", timedelta(hours=1)
            )
        finally:
            await redis.aclose()

    async def wait_completed(self, count: int) -> None:
        async with asyncio.timeout(WAIT_LIMIT_SECONDS):
            while await self.completed() < count:  # noqa: ASYNC110 - other processes finish them
                await asyncio.sleep(0.05)


@contextmanager
def jobyard_platform(
    mongodb_url: str, redis_url: str, tmp: Path, env: dict[str, str] | None = None
) -> Iterator[Platform]:
    """auth, api and a worker with ``PROCESSES`` x ``THREADS``, on a database of their own
    (``env``: settings of the benchmark's own)."""
    token = uuid.uuid4().hex[:8]
    database, prefix = f"bench_tasks_{token}", f"bench:{token}:"
    with ExitStack() as stack:
        auth = stack.enter_context(auth_service(mongodb_url, redis_url, tmp))
        settings = {
            **Isolation(mongodb_url, redis_url, database, prefix).env(),
            "JOBYARD_AUTH_URL": auth.url,
            "JOBYARD_AUTH_JWKS_URL": auth.jwks_url,
            "JOBYARD_LOG_LEVEL": "WARNING",
            "JOBYARD_TASK_SUBMIT_RATE_PER_MINUTE": "10000000",
            **(env or {}),
        }
        api = stack.enter_context(
            running_service([bin_path("jobyard-api"), "serve"], settings, tmp / "api.log")
        )
        metrics_port = free_port()
        worker_settings = {
            **settings,
            "JOBYARD_WORKER_METRICS_PORT": str(metrics_port),
            "JOBYARD_WORKER_PREFETCH": str(PREFETCH),
            "JOBYARD_WORKER_METRICS_DIR": str(tmp / f"worker-metrics-{token}"),
        }
        worker = subprocess.Popen(
            [
                bin_path("jobyard-worker"),
                "--processes",
                str(PROCESSES),
                "--threads",
                str(THREADS),
                "--queues",
                "tasks.high",
                "tasks.default",
                "tasks.low",
            ],
            env={**os.environ, **worker_settings},
            stdout=subprocess.DEVNULL,
            stderr=(tmp / "worker.log").open("ab"),
        )
        stack.callback(worker.wait, 60)
        stack.callback(worker.terminate)
        worker_metrics = f"http://127.0.0.1:{metrics_port}/metrics"
        wait_until(lambda: _answers(worker_metrics), timeout=60, what="the worker's metrics")
        yield Platform(
            api,
            auth.user_headers("bench@example.com"),
            mongodb_url,
            database,
            redis_url,
            prefix,
            worker_metrics,
            worker.pid,
        )


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


async def count_completed(platform: Platform) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(platform.mongodb_url)
    try:
        return await client[platform.database]["executions"].count_documents({"status": "completed"})
    finally:
        await client.close()


async def throughput(platform: Platform, count: int) -> float:
    """Seconds from the first batch request to the last execution completed."""
    done_before = await platform.completed()
    async with httpx.AsyncClient(base_url=platform.api, headers=platform.headers, timeout=300) as http:
        started = time.perf_counter()
        for start in range(0, count, BATCH):
            batch = [{"name": f"t{i}", "kind": "noop"} for i in range(start, min(count, start + BATCH))]
            (await http.post("/api/v1/tasks:batch", json={"tasks": batch})).raise_for_status()
        await platform.wait_completed(done_before + count)
        return time.perf_counter() - started


async def latencies(platform: Platform, rate: float, seconds: float) -> list[float]:
    """Milliseconds from each request sent to its execution completed, at ``rate`` a second."""
    sent: dict[ObjectId, float] = {}
    done_before = await platform.completed()
    # no pool timeout: past the server's capacity requests queue for a connection, and that
    # wait is part of each one's latency (measured from when it was due), not a crash
    timeout = httpx.Timeout(60, pool=None)
    async with httpx.AsyncClient(base_url=platform.api, headers=platform.headers, timeout=timeout) as http:

        async def submit(i: int) -> None:
            at = time.time()
            response = await http.post("/api/v1/tasks", json={"name": f"l{i}", "kind": "noop"})
            response.raise_for_status()
            sent[ObjectId(response.json()["executionId"])] = at

        count = int(rate * seconds)
        start = time.perf_counter()
        pending = []
        for i in range(count):  # a steady rate: each request at its own time, whatever the others do
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            pending.append(asyncio.create_task(submit(i)))
        await asyncio.gather(*pending)
    await platform.wait_completed(done_before + count)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(platform.mongodb_url, tz_aware=True)
    try:
        cursor = client[platform.database]["executions"].find(
            {"_id": {"$in": list(sent)}}, {"completedAt": 1}
        )
        finished = {doc["_id"]: doc["completedAt"].timestamp() async for doc in cursor}
    finally:
        await client.close()
    return sorted((finished[oid] - at) * 1000 for oid, at in sent.items())


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(fraction * len(values)))]


@dataclass(frozen=True)
class Idle:
    """What the machine spends with the platforms up and no work (cores' worth: CPU seconds a
    second), and each platform's workers' share of it: their idle polls."""

    machine: float
    workers: dict[int, float]

    @staticmethod
    def measure(platforms: list[Platform], window: float = IDLE_WINDOW_SECONDS) -> Idle:
        before = machine_cpu_seconds(), [cpu_seconds(p.worker_pid) for p in platforms]
        time.sleep(window)  # a measurement over a window, not a wait for a condition
        after = machine_cpu_seconds(), [cpu_seconds(p.worker_pid) for p in platforms]
        workers = {
            p.worker_pid: (a - b) / window for p, a, b in zip(platforms, after[1], before[1], strict=True)
        }
        return Idle((after[0] - before[0]) / window, workers)

    def besides(self, platform: Platform) -> float:
        """The idle load while ``platform`` works: everything else's (the other platform's
        polls, the servers' own), since its own polls turn into its work."""
        return self.machine - self.workers[platform.worker_pid]


def per_task(
    before: dict[str, float], after: dict[str, float], tasks: int, idle_cpu: float
) -> dict[str, float]:
    """Per task between two ``round_trips``; ``idle_cpu``: CPU seconds the machine would have
    spent meanwhile without the work, left out of the machine's figure."""
    commands, written, cpu, machine = (
        after[name] - before[name] for name in (*COUNTED, "workerCpuSeconds", "machineCpuSeconds")
    )
    machine -= idle_cpu
    return {
        "commandsPerTask": commands / tasks,
        "documentsWrittenPerTask": written / tasks,
        "workerCpuMsPerTask": cpu * 1000 / tasks,  # its processes' user + system time, idle polls included
        "machineCpuMsPerTask": machine * 1000 / tasks,  # every process's: see cpuMsPerTask
    }


def on_server(server: str, args: argparse.Namespace, tmp: Path, redis_url: str) -> dict[str, Any]:
    with ExitStack() as stack:
        mongodb_url = stack.enter_context(mongodb_for_bench(tmp, server))
        platform = stack.enter_context(jobyard_platform(mongodb_url, redis_url, tmp))
        # the same platform claiming every attempt in MongoDB (4 writes a task): the before;
        # stopped before the latency runs, which measure the platform alone as they did
        claims_stack = ExitStack()
        mongodb_claims = claims_stack.enter_context(
            jobyard_platform(mongodb_url, redis_url, tmp, env={"JOBYARD_TASK_PROCESSING_WRITE_AFTER_MS": "0"})
        )
        stack.push(claims_stack.__exit__)
        os.environ["BENCH_MONGODB_URL"] = mongodb_url.replace("/?", "/bench_celery_results?")
        ours: list[float] = []
        raw: list[Drained] = []
        durable: list[Drained] = []
        before_ours: list[float] = []
        trips: list[dict[str, float]] = []
        before_trips: list[dict[str, float]] = []
        idle = Idle.measure([platform, mongodb_claims])
        for _ in range(args.repeats):  # alternated, so a slower phase of the machine hits each
            for peer, drains in (("dramatiq", raw), ("celery-mongodb", durable)):
                drained = drain(by_name(peer), redis_url, args.tasks, tmp, prefetch=PREFETCH)
                # the peer's own figure: what the machine spends with both platforms idle is not its
                drains.append(
                    replace(
                        drained,
                        machine_cpu_seconds=drained.machine_cpu_seconds - idle.machine * drained.seconds,
                    )
                )
            for measured, rates, per in (
                (mongodb_claims, before_ours, before_trips),
                (platform, ours, trips),
            ):
                before = measured.round_trips()
                seconds = asyncio.run(throughput(measured, args.tasks))
                rates.append(args.tasks / seconds)
                per.append(
                    per_task(before, measured.round_trips(), args.tasks, idle.besides(measured) * seconds)
                )
        for measured in (platform, mongodb_claims):
            stored = asyncio.run(count_completed(measured))
            if stored != args.tasks * args.repeats:
                raise SystemExit(
                    f"{stored} execution records completed, expected {args.tasks * args.repeats}"
                )
        claims_stack.close()
        waits, single = {}, []
        for rate in args.rates:
            before, started = platform.round_trips(), time.perf_counter()
            waits[rate] = asyncio.run(latencies(platform, rate, args.seconds))
            besides = idle.besides(platform) * (time.perf_counter() - started)
            single.append(per_task(before, platform.round_trips(), len(waits[rate]), besides))
    latency = [
        {
            "ratePerSecond": rate,
            "seconds": args.seconds,
            "tasks": len(values),
            "p50Ms": percentile(values, 0.5),
            "p99Ms": percentile(values, 0.99),
            "maxMs": values[-1],
        }
        for rate, values in waits.items()
    ]
    raw_rates = [args.tasks / d.seconds for d in raw]
    durable_rates = [args.tasks / d.seconds for d in durable]
    return {
        "jobyardTasksPerSecond": summary(ours),
        "rawDramatiqMessagesPerSecond": summary(raw_rates),
        "celeryMongodbTasksPerSecond": summary(durable_rates),
        "ratio": statistics.median(ours) / statistics.median(raw_rates),
        "ratioToCeleryMongodb": statistics.median(ours) / statistics.median(durable_rates),
        # what a task costs the whole machine (all processes, the senders included), and the
        # workers' share of it: where the same-run ratios come from on cores they all share
        "cpuMsPerTask": {
            "idleCores": idle.machine,  # left out of every machine figure (the other platform's, less)
            "jobyard": {
                "machine": statistics.median(t["machineCpuMsPerTask"] for t in trips),
                "workers": statistics.median(t["workerCpuMsPerTask"] for t in trips),
            },
            **{
                name: {
                    "machine": statistics.median(d.machine_cpu_seconds * 1000 / args.tasks for d in drains),
                    "workers": statistics.median(d.worker_cpu_seconds * 1000 / args.tasks for d in drains),
                }
                for name, drains in (("rawDramatiq", raw), ("celeryMongodb", durable))
            },
        },
        "roundTrips": {
            "batch": {key: statistics.median(t[key] for t in trips) for key in trips[0]},
            "single": {key: statistics.median(t[key] for t in single) for key in single[0]},
        },
        "latency": latency,
        "claimsInMongodb": {
            "tasksPerSecond": summary(before_ours),
            "batch": {key: statistics.median(t[key] for t in before_trips) for key in before_trips[0]},
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", nargs="+", default=list(SERVERS), choices=SERVERS)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rates", type=float, nargs="+", default=[20, 100], help="single submits a second")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument(
        "--record-as", default="tasks", help="the results.json section (tasksScale: the full-size run)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        with redis_for_tests(tmp / "redis") as redis_url:
            servers = {
                server: on_server(server, args, tmp, redis_url) for server in servers_here(args.servers)
            }
    record(
        args.record_as,
        {
            "tasks": args.tasks,
            "repeats": args.repeats,
            "processes": PROCESSES,
            "threads": THREADS,
            "prefetch": PREFETCH,
            "servers": servers,
        },
    )
    out = sys.stdout.write
    out(
        f"{args.tasks:,} no-op tasks x {args.repeats}, {PROCESSES} worker processes x {THREADS} threads,"
        f" prefetch {PREFETCH} (median [min, max]):\n"
    )
    for server, row in servers.items():
        ours, raw, durable = (
            row[k]
            for k in ("jobyardTasksPerSecond", "rawDramatiqMessagesPerSecond", "celeryMongodbTasksPerSecond")
        )
        out(
            f"  on {server}:\n"
            f"    jobyard (API batch -> worker -> execution completed) {ours['median']:8,.0f} tasks/s"
            f"  {row['ratio']:.3f}x raw (target {TARGET_RATIO})\n"
            f"    raw Dramatiq (send -> drain)                          {raw['median']:8,.0f} msgs/s\n"
            f"    Celery, MongoDB result backend                        {durable['median']:8,.0f} tasks/s"
            f"  (jobyard {row['ratioToCeleryMongodb']:.2f}x, target {TARGET_DURABLE_RATIO})\n"
        )
        for kind, trips in row["roundTrips"].items():
            out(
                f"    round trips per task ({kind}): {trips['commandsPerTask']:.2f} commands,"
                f" {trips['documentsWrittenPerTask']:.2f} documents written,"
                f" {trips.get('workerCpuMsPerTask', float('nan')):.2f} ms of worker CPU\n"
            )
        cpu = row["cpuMsPerTask"]
        out(
            "    CPU a task, whole machine (workers): "
            + "; ".join(
                f"{name} {cpu[name]['machine']:.2f} ms ({cpu[name]['workers']:.2f})"
                for name in ("jobyard", "rawDramatiq", "celeryMongodb")
            )
            + "\n"
        )
        claims = row["claimsInMongodb"]
        out(
            f"    before, every attempt claimed in MongoDB: {claims['tasksPerSecond']['median']:,.0f} tasks/s,"
            f" {claims['batch']['commandsPerTask']:.2f} commands, {claims['batch']['documentsWrittenPerTask']:.2f}"
            f" documents written, {claims['batch']['workerCpuMsPerTask']:.2f} ms of worker CPU\n"
        )
        for lat in row["latency"]:
            out(
                f"    latency at {lat['ratePerSecond']:.0f}/s: p50 {lat['p50Ms']:.1f} ms, p99 {lat['p99Ms']:.1f} ms"
                f" (target < {TARGET_P99_MS:.0f})\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
