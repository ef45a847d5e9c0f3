"""Benchmark: the hourly import end to end, against raw PyMongo writes of the same postings.

A generated WP Job Manager feed is served on loopback. ``jobyard-scheduler import`` fetches,
parses and queues it, and a ``jobyard-worker`` (2 processes) upserts the batches, until the
import log is completed. Then the unchanged feed is imported again. Each import is timed as
its log records it (created → finished: fetch, parse, queue, every batch upserted), which
is what a CronJob run or an "Import now" pays per feed; the command's own start (a Python
process, its imports and connections) is reported beside it. The baseline is
measured in the same run, on the same MongoDB, with the same indexes: the same postings
upserted straight through PyMongo in unordered ``bulk_write`` batches of the same size.

    python -m bench.imports [--items N]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from jobyard_libs.feeds.parser import ParsedJob, iter_feed
from jobyard_libs.imports.jobs import INDEXES as JOB_INDEXES
from jobyard_libs.mongo import ensure_indexes, utcnow
from pymongo import AsyncMongoClient, UpdateOne

from bench.infra import SERVERS, mongodb_for_bench, redis_for_tests, servers_here
from bench.results import record, summary
from tests.conftest import Isolation
from tests.support.feed_factory import write_feed
from tests.support.feed_server import FeedServer
from tests.support.processes import bin_path

BATCH = 200
TARGET_RATIO = 0.7


async def raw_baseline(mongodb_url: str, feed: bytes, url: str) -> float:
    """Seconds to upsert every posting with bare PyMongo (parsing not included)."""
    jobs = [item for item in iter_feed(io.BytesIO(feed), url) if isinstance(item, ParsedJob)]
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url)
    db = client["bench_raw"]
    await client.drop_database("bench_raw")
    await ensure_indexes(db, JOB_INDEXES)
    started = time.perf_counter()
    for start in range(0, len(jobs), BATCH):
        now = utcnow()
        await db["jobs"].bulk_write(
            [
                UpdateOne(
                    {"feedUrl": url, "externalId": job.external_id},
                    {"$setOnInsert": {**job.fields, "externalId": job.external_id, "createdAt": now}},
                    upsert=True,
                )
                for job in jobs[start : start + BATCH]
            ],
            ordered=False,
        )
    seconds = time.perf_counter() - started
    await client.drop_database("bench_raw")
    await client.close()
    return seconds


async def wait_completed(mongodb_url: str, database: str, url: str, runs: int) -> dict[str, Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url)
    try:
        while True:
            logs = (
                await client[database]["import_logs"].find({"feedUrl": url}).sort("timestamp", -1).to_list()
            )
            if len(logs) >= runs and logs[0]["status"] in ("completed", "failed"):
                return logs[0]
            await asyncio.sleep(0.2)
    finally:
        await client.close()


def import_once(
    env: dict[str, str], url: str, mongodb_url: str, database: str, runs: int
) -> tuple[float, dict[str, Any]]:
    """Seconds from the command's start to the log's end, and the log."""
    started = time.perf_counter()
    done = subprocess.run(
        [bin_path("jobyard-scheduler"), "import", "--feed", url],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    log = asyncio.run(wait_completed(mongodb_url, database, url, runs))
    return time.perf_counter() - started, log


def logged(log: dict[str, Any]) -> float:
    """The import's own seconds, as its log records them."""
    return float((log["finishedAt"] - log["timestamp"]).total_seconds())


def run(items: int, repeats: int, server: str) -> dict[str, Any]:
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        mongodb_url = stack.enter_context(mongodb_for_bench(tmp, server))
        redis_url = stack.enter_context(redis_for_tests(tmp / "redis"))
        buffer = io.BytesIO()
        write_feed(buffer, items)
        feed = buffer.getvalue()
        internet = FeedServer()
        stack.callback(internet.stop)
        # one feed per repeat: the same postings, new to the database each time (jobs are per feed)
        urls = [
            internet.serve(f"/feed-{r}.xml", feed, content_type="application/rss+xml") for r in range(repeats)
        ]
        env = {
            **os.environ,
            **Isolation(mongodb_url, redis_url, "bench_import", "bench:").env(),
            "JOBYARD_FEEDS": json.dumps(urls),
            "JOBYARD_LOG_LEVEL": "WARNING",
            # a full-size feed (1,000,000 items: 640 MB) is over the default 256 MiB limit
            "JOBYARD_FEED_MAX_BYTES": str(max(256 * 1024 * 1024, 2 * len(feed))),
        }
        worker = subprocess.Popen(
            [bin_path("jobyard-worker"), "--processes", "2", "--threads", "4", "--queues", "imports"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp / "worker.log").open("wb"),
        )
        stack.callback(worker.wait, 60)
        stack.callback(worker.terminate)
        firsts, agains, raws, starts = [], [], [], []
        for url in urls:  # alternated, so a slower phase of the machine hits each
            with_start, log = import_once(env, url, mongodb_url, "bench_import", 1)
            assert log["status"] == "completed" and log["newJobs"] == items, log
            starts.append(with_start - logged(log))
            _, log = import_once(env, url, mongodb_url, "bench_import", 2)
            assert log["status"] == "completed" and log["unchangedJobs"] == items, log
            agains.append(items / logged(log))
            raw = asyncio.run(raw_baseline(mongodb_url, feed, url))
            firsts.append(items / (with_start - starts[-1]))
            raws.append(items / raw)
    first_rate, raw_rate = statistics.median(firsts), statistics.median(raws)
    return {
        "feedBytes": len(feed),
        "firstImportItemsPerSecond": summary(firsts),
        "reimportItemsPerSecond": summary(agains),
        "rawBulkWriteItemsPerSecond": summary(raws),
        "ratioToRaw": first_rate / raw_rate,
        "reimportSpeedup": statistics.median(agains) / first_rate,
        "commandStartSeconds": statistics.median(starts),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", nargs="+", default=list(SERVERS), choices=SERVERS)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--record-as", default="imports", help="the results.json section (importsScale: the full-size run)"
    )
    args = parser.parse_args()
    servers = {server: run(args.items, args.repeats, server) for server in servers_here(args.servers)}
    record(args.record_as, {"items": args.items, "repeats": args.repeats, "servers": servers})
    out = sys.stdout.write
    for server, results in servers.items():
        out(
            f"import of a {args.items:,}-item feed ({results['feedBytes'] / 1e6:.0f} MB) on {server}, end to end,"
            f" x {args.repeats} (median [min, max]):\n"
        )
        for label, key in (
            ("first import", "firstImportItemsPerSecond"),
            ("re-import (unchanged)", "reimportItemsPerSecond"),
            ("baseline: raw bulk_write", "rawBulkWriteItemsPerSecond"),
        ):
            figure = results[key]
            out(
                f"  {label:26} {figure['median']:10,.0f} items/s"
                f"  [{figure['spread'][0]:,.0f}, {figure['spread'][1]:,.0f}]\n"
            )
        speedup = results["reimportSpeedup"]
        out(f"  (the command's own start: {results['commandStartSeconds']:.2f} s, not counted above)\n")
        out(
            f"  first import {results['ratioToRaw']:.2f}x raw bulk_write (target {TARGET_RATIO})"
            + f"; re-import {speedup:.1f}x the first (target 2)\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
