"""Benchmark: the REST API's pages as jobs pile up, and under load, on each server.

Pages: one request at a time (median of ``PAGE_REPEATS``), ``GET /api/v1/jobs`` with 1,000,
10,000 and 100,000 jobs stored: the first page, a page 1,000 items deep through
``nextCursor``, and the deepest page by offset (item 10,000). With every job stored,
``wrk`` (a load generator written in C, from Debian's packages) holds ``CONNECTIONS``
connections open against ``GET /api/v1/imports`` and ``GET /api/v1/jobs`` (a page of 50,
newest first, total capped at 10,000) for ``--seconds`` each and reports requests/s and
the latency distribution. The baseline, in the same run: ``GET /readyz``, the same
service's cheapest route (no authentication, no database): what the HTTP stack costs.

    python -m bench.api_load [--servers python rust] [--jobs N] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from jobyard_libs.imports.documents import ImportLog
from jobyard_libs.imports.import_logs import INDEXES as IMPORT_LOG_INDEXES
from jobyard_libs.imports.jobs import INDEXES as JOB_INDEXES
from jobyard_libs.imports.models import ImportStatus, ImportTrigger, title_words
from jobyard_libs.listing import MAX_OFFSET
from jobyard_libs.mongo import ensure_indexes, utcnow
from pymongo import AsyncMongoClient

from bench.infra import SERVERS, mongodb_for_bench, redis_for_tests, servers_here
from bench.results import record
from tests.conftest import Isolation
from tests.support.auth_service import auth_service
from tests.support.processes import bin_path, running_service

CONNECTIONS = 8
IMPORT_LOGS = 1_000
PAGE = 50
PAGE_REPEATS = 5
SIZES = (1_000, 10_000, 100_000)
CURSOR_DEPTH = 20  # pages followed through nextCursor: a page 1,000 items deep
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


async def fill(url: str, database: str, first: int, jobs: int) -> None:
    """Postings ``first`` to ``jobs`` over 20 feeds (and, the first time, ``IMPORT_LOGS``
    import logs and the indexes)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
    db, now = client[database], utcnow()
    try:
        for start in range(first, jobs, 10_000):
            await db["jobs"].insert_many(
                [
                    {
                        "feedUrl": f"https://feeds.example/{i % 20}",
                        "externalId": str(i),
                        "title": f"Engineer {i}",
                        "titleWords": title_words(f"Engineer {i}"),
                        "company": f"Company {i % 500}",
                        "location": "Remote",
                        "jobType": "Full Time",
                        "postedAt": now - timedelta(minutes=i),
                        "contentHash": str(i),
                        "createdAt": now,
                        "updatedAt": now,
                    }
                    for i in range(start, min(jobs, start + 10_000))
                ]
            )
        if first:
            return
        finished = [  # the logs as the import leaves them
            ImportLog(
                feed_url=f"https://feeds.example/{i % 20}",
                file_name=f"https://feeds.example/{i % 20}",
                trigger=ImportTrigger.SCHEDULE,
                status=ImportStatus.COMPLETED,
                total_fetched=5000,
                total_imported=5000,
                unchanged_jobs=5000,
                timestamp=now - timedelta(hours=i),
            )
            for i in range(IMPORT_LOGS)
        ]
        await db["import_logs"].insert_many([log.to_mongo() for log in finished])
        await ensure_indexes(db, [*JOB_INDEXES, *IMPORT_LOG_INDEXES])
    finally:
        await client.close()


def wrk(url: str, headers: dict[str, str], seconds: float) -> dict[str, Any]:
    """requests/s and latency percentiles; ``None`` percentiles when no request finished in time."""
    command = [
        "wrk",
        "--threads",
        "1",
        "--connections",
        str(CONNECTIONS),
        "--duration",
        f"{seconds:.0f}s",
        "--timeout",
        "60s",
        "--latency",
    ]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    requests = re.search(r"(\d+) requests in", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if requests is None or rate is None or "Non-2xx" in out:
        raise RuntimeError(f"wrk against {url} did not get only successes:\n{out}")

    def latency(label: str) -> float:
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if found is None:
            raise RuntimeError(f"no {label}% latency in wrk's output:\n{out}")
        return float(found[1]) * UNITS[found[2]]

    done = int(requests[1])
    return {
        "requests": done,
        "requestsPerSecond": float(rate[1]),
        "p50Ms": latency("50") if done else None,
        "p99Ms": latency("99") if done else None,
    }


def _timed(api: str, path: str, headers: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """Milliseconds of one ``GET path`` alone, median of ``PAGE_REPEATS``, and its answer."""
    times, body = [], {}
    for _ in range(PAGE_REPEATS):
        started = time.perf_counter()
        answer = httpx.get(f"{api}{path}", headers=headers, timeout=300)
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"GET {path} answered {answer.status_code}: {answer.text[:500]}")
        body = answer.json()
    return statistics.median(times), body


def page_times(api: str, headers: dict[str, str], stored: int) -> dict[str, float | None]:
    first, body = _timed(api, f"/api/v1/jobs?limit={PAGE}", headers)
    cursor = body["nextCursor"]
    depth = min(CURSOR_DEPTH, stored // PAGE - 1)  # the last page, where there are fewer items
    for _ in range(depth - 1):  # follow the cursors down to 1,000 items deep
        cursor = httpx.get(
            f"{api}/api/v1/jobs", params={"limit": PAGE, "cursor": cursor}, headers=headers, timeout=300
        ).json()["nextCursor"]
    deep, _ = _timed(api, f"/api/v1/jobs?limit={PAGE}&cursor={cursor}", headers)
    last_page = MAX_OFFSET // PAGE
    offset = (
        _timed(api, f"/api/v1/jobs?limit={PAGE}&page={last_page}", headers)[0]
        if stored > MAX_OFFSET
        else None
    )
    return {"firstMs": first, "cursorDeepMs": deep, "offsetDeepMs": offset}


def on_server(server: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    database = f"bench_api_{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        mongodb_url = stack.enter_context(mongodb_for_bench(tmp, server))
        redis_url = stack.enter_context(redis_for_tests(tmp / f"redis-{server}"))
        (tmp / server).mkdir(parents=True, exist_ok=True)
        auth = stack.enter_context(auth_service(mongodb_url, redis_url, tmp / server))
        env = {
            **Isolation(mongodb_url, redis_url, database, "bench-api:").env(),
            "JOBYARD_AUTH_URL": auth.url,
            "JOBYARD_AUTH_JWKS_URL": auth.jwks_url,
            "JOBYARD_LOG_LEVEL": "WARNING",
        }
        headers = auth.admin_headers()  # the import logs are an admin's to read
        pages: dict[str, dict[str, float | None]] = {}
        stored, fill_seconds = 0, 0.0
        api = ""
        for size in [s for s in SIZES if s < args.jobs] + [args.jobs]:
            started = time.perf_counter()
            asyncio.run(fill(mongodb_url, database, stored, size))
            fill_seconds += time.perf_counter() - started
            stored = size
            if not api:
                api = stack.enter_context(
                    running_service([bin_path("jobyard-api"), "serve"], env, tmp / f"api-{server}.log")
                )
            pages[str(size)] = page_times(api, headers, size)
        paths = {
            "readyz": "/readyz",
            "imports": f"/api/v1/imports?limit={PAGE}",
            "jobs": f"/api/v1/jobs?limit={PAGE}",
        }
        routes: dict[str, dict[str, Any]] = {}
        for name, path in paths.items():
            alone_ms, _ = _timed(api, path, headers)  # it must succeed, and its time is the floor
            routes[name] = {"aloneMs": alone_ms, **wrk(f"{api}{path}", headers, args.seconds)}
    return {"fillSeconds": fill_seconds, "pages": pages, "routes": routes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", nargs="+", default=list(SERVERS), choices=SERVERS)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.stderr.write("bench.api_load needs wrk: apt-get install --no-install-recommends wrk\n")
        return 2
    with tempfile.TemporaryDirectory() as folder:
        servers = {server: on_server(server, args, Path(folder)) for server in servers_here(args.servers)}
    record(
        "api",
        {
            "storedJobs": args.jobs,
            "importLogs": IMPORT_LOGS,
            "page": PAGE,
            "connections": CONNECTIONS,
            "seconds": args.seconds,
            "servers": servers,
        },
    )
    out = sys.stdout.write
    for server, row in servers.items():
        out(f"API on {server}, pages of {PAGE} alone (median of {PAGE_REPEATS}):\n")
        for size, times in row["pages"].items():
            offset = f"{times['offsetDeepMs']:7.1f} ms" if times["offsetDeepMs"] is not None else "      —"
            out(
                f"  {int(size):>7,} jobs: first {times['firstMs']:7.1f} ms, 1,000 deep by cursor"
                f" {times['cursorDeepMs']:7.1f} ms, item 10,000 by offset {offset}\n"
            )
        out(f"  wrk {CONNECTIONS} connections x {args.seconds:.0f} s, {args.jobs:,} jobs:\n")
        for name, route in row["routes"].items():
            under_load = (
                f"p50 {route['p50Ms']:8.1f} ms  p99 {route['p99Ms']:8.1f} ms"
                if route["requests"]
                else f"no request finished within {args.seconds:.0f} s"
            )
            out(f"    GET {name:8} {route['requestsPerSecond']:9,.1f} req/s  {under_load}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
