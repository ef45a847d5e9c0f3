"""Benchmark: what a workflow adds to the tasks it runs, on each MongoDB-compatible server.

Fan-out: a workflow of a root step (``http``: a local server answers a list of N items), a
``forEach`` step of N ``noop`` runs and a step gathering them; from ``POST
/api/v1/workflows`` to the workflow ``completed``. Against, in the same run on the same
processes: N + 2 ``noop`` tasks submitted alone (``POST /api/v1/tasks:batch``) to their
last execution completed. Its cost per run (MongoDB commands, summed over the api and the
worker's processes) is measured at two sizes: a fan-out whose bookkeeping grew with the
square of its width would cost four times as much per run at four times the width.

Chain: a workflow of S ``noop`` steps each depending on the one before, from the request
to ``completed``. Against: the same S tasks submitted alone one after the other, each
when the one before completed (what a client does without workflows: submit, wait, submit
the next), waiting on the execution's record.

Exits 0 when it measured: ``make bench`` reports every benchmark.

    python -m bench.workflows [--servers python rust] [--fan-out N] [--chain S] [--repeats R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from bson import ObjectId
from jobyard_libs.workflows.models import FOR_EACH_MAX
from pymongo import AsyncMongoClient

from bench.infra import SERVERS, mongodb_for_bench, redis_for_tests, servers_here
from bench.results import record, summary
from bench.tasks import Platform, jobyard_platform, throughput
from tests.support.feed_server import PUBLIC_STAND_IN, FeedServer

WAIT_LIMIT_SECONDS = 900
POLL_SECONDS = 0.002
TARGET_LINEAR = 1.25  # commands per run at the larger width / at the smaller, at most


def items(count: int) -> bytes:
    """A JSON list of ``count`` numbers (the ``http`` kind reads up to 60 KB of a JSON answer)."""
    return json.dumps(list(range(count))).encode()


class Workflows:
    def __init__(self, platform: Platform, feeds: FeedServer) -> None:
        self.platform = platform
        self.feeds = feeds
        self.mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(platform.mongodb_url)
        self.db = self.mongo[platform.database]
        self.last = ObjectId()

    async def close(self) -> None:
        await self.mongo.close()

    async def _ended(self, collection: str, oid: ObjectId, done: set[str]) -> str:
        async with asyncio.timeout(WAIT_LIMIT_SECONDS):
            while True:
                found = await self.db[collection].find_one({"_id": oid}, {"status": 1})
                if found is not None and found["status"] in done:
                    return str(found["status"])
                await asyncio.sleep(POLL_SECONDS)

    async def run(self, http: httpx.AsyncClient, steps: list[dict[str, Any]]) -> float:
        """Seconds from the request to the workflow completed."""
        started = time.perf_counter()
        response = await http.post("/api/v1/workflows", json={"name": "bench", "steps": steps})
        response.raise_for_status()
        self.last = ObjectId(response.json()["id"])
        status = await self._ended("workflows", self.last, {"completed", "failed", "cancelled"})
        if status != "completed":
            raise SystemExit(f"a benchmark workflow ended {status}")
        return time.perf_counter() - started

    async def phases(self) -> dict[str, float]:
        """Where the last workflow's time went, in seconds: to each step's start (after what
        it waited for) and from its start to its end."""
        found = await self.db["workflows"].find_one({"_id": self.last})
        assert found is not None
        steps, spent = found["steps"], {}
        for name in found["order"]:
            step = steps[name]
            ready = max((steps[d]["finishedAt"] for d in step["dependsOn"]), default=found["createdAt"])
            spent[f"{name}.wait"] = (step["startedAt"] - ready).total_seconds()
            spent[f"{name}.run"] = (step["finishedAt"] - step["startedAt"]).total_seconds()
        spent["end"] = (found["finishedAt"] - steps[found["order"][-1]]["finishedAt"]).total_seconds()
        return spent

    async def fan_out(self, width: int) -> tuple[float, float]:
        """Seconds, and MongoDB commands per run, of a fan-out of ``width``."""
        url = self.feeds.serve(f"/items-{width}", items(width), content_type="application/json")
        steps: list[dict[str, Any]] = [
            {"id": "list", "kind": "http", "payload": {"url": url}},
            {"id": "each", "kind": "noop", "dependsOn": ["list"], "forEach": "${list.result.json}"},
            {"id": "gather", "kind": "noop", "dependsOn": ["each"]},
        ]
        before = self.platform.round_trips()
        async with self._client() as http:
            seconds = await self.run(http, steps)
        after = self.platform.round_trips()
        commands = after["jobyard_mongodb_commands_total"] - before["jobyard_mongodb_commands_total"]
        return seconds, commands / width

    async def chain(self, length: int) -> float:
        steps = [
            {"id": f"s{i}", "kind": "noop", **({"dependsOn": [f"s{i - 1}"]} if i else {})}
            for i in range(length)
        ]
        async with self._client() as http:
            return await self.run(http, steps)

    async def submitted_one_after_another(self, length: int) -> float:
        """Seconds for ``length`` tasks, each submitted when the one before completed."""
        started = time.perf_counter()
        async with self._client() as http:
            for i in range(length):
                response = await http.post("/api/v1/tasks", json={"name": f"c{i}", "kind": "noop"})
                response.raise_for_status()
                await self._ended("executions", ObjectId(response.json()["executionId"]), {"completed"})
        return time.perf_counter() - started

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.platform.api, headers=self.platform.headers, timeout=300)


def on_server(server: str, args: argparse.Namespace, tmp: Path, redis_url: str) -> dict[str, Any]:
    feeds = FeedServer()
    egress = {"JOBYARD_EGRESS_ALLOWED_HOSTS": PUBLIC_STAND_IN, "JOBYARD_WORKFLOW_MAX_STEPS": str(args.chain)}
    try:
        with ExitStack() as stack:
            mongodb_url = stack.enter_context(mongodb_for_bench(tmp, server))
            platform = stack.enter_context(jobyard_platform(mongodb_url, redis_url, tmp, env=egress))
            return asyncio.run(_measure(platform, feeds, args))
    finally:
        feeds.stop()


async def _measure(platform: Platform, feeds: FeedServer, args: argparse.Namespace) -> dict[str, Any]:
    bench = Workflows(platform, feeds)
    small = max(1, args.fan_out // 4)
    try:
        fan, alone, chain, sequential = [], [], [], []
        phases: list[dict[str, float]] = []
        per_run: dict[int, list[float]] = {small: [], args.fan_out: []}
        for _ in range(args.repeats):  # alternated, so a slower phase of the machine hits each
            seconds, cost = await bench.fan_out(args.fan_out)
            phases.append(await bench.phases())
            fan.append(seconds)
            per_run[args.fan_out].append(cost)
            per_run[small].append((await bench.fan_out(small))[1])
            alone.append(await throughput(platform, args.fan_out + 2))
            chain.append(await bench.chain(args.chain))
            sequential.append(await bench.submitted_one_after_another(args.chain))
    finally:
        await bench.close()
    commands = {width: statistics.median(values) for width, values in per_run.items()}
    return {
        "fanOut": {
            "width": args.fan_out,
            "workflowSeconds": summary(fan),
            "tasksAloneSeconds": summary(alone),
            "overheadMsPerRun": (statistics.median(fan) - statistics.median(alone)) * 1000 / args.fan_out,
            "commandsPerRun": {str(width): value for width, value in commands.items()},
            "commandsPerRunGrowth": commands[args.fan_out] / commands[small],
            "phaseSeconds": {key: statistics.median(p[key] for p in phases) for key in phases[0]},
        },
        "chain": {
            "steps": args.chain,
            "workflowSeconds": summary(chain),
            "oneAfterAnotherSeconds": summary(sequential),
            "msPerStep": statistics.median(chain) * 1000 / args.chain,
            "oneAfterAnotherMsPerStep": statistics.median(sequential) * 1000 / args.chain,
            "overheadMsPerStep": (statistics.median(chain) - statistics.median(sequential))
            * 1000
            / args.chain,
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", nargs="+", default=list(SERVERS), choices=SERVERS)
    parser.add_argument("--fan-out", type=int, default=FOR_EACH_MAX, help=f"runs (at most {FOR_EACH_MAX})")
    parser.add_argument("--chain", type=int, default=100, help="steps")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not 4 <= args.fan_out <= FOR_EACH_MAX:
        parser.error(f"--fan-out: from 4 to {FOR_EACH_MAX}")
    if args.chain < 2:
        parser.error("--chain: at least 2 steps")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        with redis_for_tests(tmp / "redis") as redis_url:
            servers = {
                server: on_server(server, args, tmp, redis_url) for server in servers_here(args.servers)
            }
    record(
        "workflows",
        {"repeats": args.repeats, "targetCommandsPerRunGrowth": TARGET_LINEAR, "servers": servers},
    )
    out = sys.stdout.write
    out(f"workflows, {args.repeats} repeats (medians):\n")
    for server, row in servers.items():
        fan, chain = row["fanOut"], row["chain"]
        out(
            f"  on {server}:\n"
            f"    fan-out of {fan['width']:,}: {fan['workflowSeconds']['median']:.2f} s;"
            f" the same tasks alone {fan['tasksAloneSeconds']['median']:.2f} s"
            f" ({fan['overheadMsPerRun']:+.2f} ms a run)\n"
            f"    MongoDB commands a run: {json.dumps(fan['commandsPerRun'])}"
            f" ({fan['commandsPerRunGrowth']:.2f}x at 4x the width; target <= {TARGET_LINEAR})\n"
            f"    where its time went (s): {json.dumps({k: round(v, 3) for k, v in fan['phaseSeconds'].items()})}\n"
            f"    chain of {chain['steps']}: {chain['msPerStep']:.1f} ms a step;"
            f" submitted one after another {chain['oneAfterAnotherMsPerStep']:.1f} ms a step"
            f" ({chain['overheadMsPerStep']:+.1f} ms a step)\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
