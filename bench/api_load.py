"""Benchmark: the REST API under load, with 100,000 jobs stored.

``wrk`` (a load generator written in C, from Debian's packages) holds ``CONNECTIONS``
connections open against ``GET /api/v1/imports`` and then ``GET /api/v1/jobs`` (a page
of 50, newest first, with its total) for ``--seconds`` each, on loopback, and reports
requests/s and the latency distribution. The baseline, in the same run: ``GET /readyz``,
the same service's cheapest route (no authentication, no database), which is what the
HTTP stack itself costs.

    python -m bench.api_load [--jobs N] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
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
from jobyard_libs.mongo import ensure_indexes, utcnow
from pymongo import AsyncMongoClient

from bench.infra import mongodb_for_bench, redis_for_tests
from bench.results import record
from tests.conftest import Isolation
from tests.support.auth_service import auth_service
from tests.support.processes import bin_path, running_service

CONNECTIONS = 8
IMPORT_LOGS = 1_000
PAGE = 50
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


async def fill(url: str, database: str, jobs: int) -> None:
    """``jobs`` postings over 20 feeds and ``IMPORT_LOGS`` import logs; indexes built after."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
    db, now = client[database], utcnow()
    try:
        for start in range(0, jobs, 10_000):
            await db["jobs"].insert_many(
                [
                    {
                        "feedUrl": f"https://feeds.example/{i % 20}", "externalId": str(i),
                        "title": f"Engineer {i}", "titleWords": title_words(f"Engineer {i}"),
                        "company": f"Company {i % 500}", "location": "Remote", "jobType": "Full Time",
                        "postedAt": now - timedelta(minutes=i), "contentHash": str(i),
                        "createdAt": now, "updatedAt": now,
                    }
                    for i in range(start, min(jobs, start + 10_000))
                ]
            )  # fmt: skip
        finished = [  # the logs as the import leaves them
            ImportLog(feed_url=f"https://feeds.example/{i % 20}", file_name=f"https://feeds.example/{i % 20}",
                      trigger=ImportTrigger.SCHEDULE, status=ImportStatus.COMPLETED, total_fetched=5000,
                      total_imported=5000, unchanged_jobs=5000, timestamp=now - timedelta(hours=i))
            for i in range(IMPORT_LOGS)
        ]  # fmt: skip
        await db["import_logs"].insert_many([log.to_mongo() for log in finished])
        await ensure_indexes(db, [*JOB_INDEXES, *IMPORT_LOG_INDEXES])
    finally:
        await client.close()


def wrk(url: str, headers: dict[str, str], seconds: float) -> dict[str, Any]:
    """requests/s and latency percentiles; ``None`` percentiles when no request finished in time."""
    command = ["wrk", "--threads", "1", "--connections", str(CONNECTIONS), "--duration", f"{seconds:.0f}s",
               "--timeout", "60s", "--latency"]  # fmt: skip
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
    return {"requests": done, "requestsPerSecond": float(rate[1]),
            "p50Ms": latency("50") if done else None, "p99Ms": latency("99") if done else None}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.stderr.write("bench.api_load needs wrk: apt-get install --no-install-recommends wrk\n")
        return 2
    database = f"bench_api_{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        mongodb_url = stack.enter_context(mongodb_for_bench(tmp))
        redis_url = stack.enter_context(redis_for_tests(tmp / "redis"))
        started = time.perf_counter()
        asyncio.run(fill(mongodb_url, database, args.jobs))
        fill_seconds = time.perf_counter() - started
        auth = stack.enter_context(auth_service(mongodb_url, redis_url, tmp))
        env = {
            **Isolation(mongodb_url, redis_url, database, "bench-api:").env(),
            "JOBYARD_AUTH_URL": auth.url, "JOBYARD_AUTH_JWKS_URL": auth.jwks_url, "JOBYARD_LOG_LEVEL": "WARNING",
        }  # fmt: skip
        api = stack.enter_context(running_service([bin_path("jobyard-api"), "serve"], env, tmp / "api.log"))
        headers = auth.admin_headers()  # the import logs are an admin's to read
        paths = {
            "readyz": "/readyz",
            "imports": f"/api/v1/imports?limit={PAGE}",
            "jobs": f"/api/v1/jobs?limit={PAGE}",
        }
        routes: dict[str, dict[str, Any]] = {}
        for name, path in paths.items():
            started = (
                time.perf_counter()
            )  # one request alone first: it must succeed, and its time is the floor
            answer = httpx.get(f"{api}{path}", headers=headers, timeout=300)
            alone_ms = (time.perf_counter() - started) * 1000
            if answer.status_code != 200:
                raise SystemExit(f"GET {path} answered {answer.status_code}: {answer.text[:500]}")
            routes[name] = {"aloneMs": alone_ms, **wrk(f"{api}{path}", headers, args.seconds)}
    results = {"storedJobs": args.jobs, "importLogs": IMPORT_LOGS, "page": PAGE, "connections": CONNECTIONS,
               "seconds": args.seconds, "fillSeconds": fill_seconds, "routes": routes}  # fmt: skip
    record("api", results)
    sys.stdout.write(
        f"API on loopback, wrk {CONNECTIONS} connections x {args.seconds:.0f} s, {args.jobs:,} jobs and"
        f" {IMPORT_LOGS:,} import logs stored, pages of {PAGE}:\n"
    )
    for name, route in routes.items():
        under_load = (
            f"p50 {route['p50Ms']:8.1f} ms  p99 {route['p99Ms']:8.1f} ms"
            if route["requests"]
            else f"no request finished within {args.seconds:.0f} s"
        )
        sys.stdout.write(
            f"  GET {name:8} {route['requestsPerSecond']:9,.1f} req/s  {under_load}  ({route['requests']:,} requests;"
            f" one alone {route['aloneMs']:,.0f} ms)\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
