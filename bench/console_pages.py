"""Benchmark: the console's server time per page, on the data ``make run`` creates, then
with ``--executions`` more stored.

``jobyard-dev up`` (the sample feeds imported, the first admin) plus a few tasks; then every
page is fetched ``--repeats`` times as the admin, and the console's own ``Server-Timing`` (its
whole work for the page, api calls included) is read. Then ``--executions`` executions
(100,000 by default: about 17 minutes of a platform at 100 tasks/s, under the 24 h retention)
of 1,000 tasks, finished a minute apart in mixed outcomes, are written straight into the
database and the pages read again. Target: every page under 150 ms at both sizes. Baseline:
``/healthz`` of the same console (the cost of no work).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from jobyard_libs.mongo import utcnow
from jobyard_libs.tasks.models import ExecutionStatus
from pymongo import MongoClient
from pymongo.database import Database

from bench.infra import redis_for_tests
from bench.results import record
from tests.support.devstack import admin_password, dev_stack
from tests.support.factories import a_task, an_execution

TARGET_MS = 150
PAGES = [
    "/",
    "/imports",
    "/imports/{import}",
    "/jobs",
    "/jobs?q=engineer",
    "/jobs/{job}",
    "/tasks",
    "/tasks/new",
    "/tasks/{task}",
    "/executions",
    "/executions?status=dead",
    "/executions/{execution}",
    "/dead-letters",
    "/api-keys",
    "/workers",
    "/admin/feed-sources",
    "/admin/users",
]
LOADED = [
    "/",
    "/tasks",
    "/executions",
    "/executions?status=dead",
    "/executions?status=dead&kind=http",
    "/executions?taskName=seeded%20999",
    "/executions/{execution}",
    "/dead-letters",
]
OUTCOMES = [ExecutionStatus.COMPLETED] * 90 + [ExecutionStatus.CANCELLED] * 6 + [ExecutionStatus.DEAD] * 4
SEED_TASKS = 1000


def seed(mongodb_url: str, owner: str, executions: int) -> None:
    """``executions`` finished runs of 1,000 recurring tasks, as the repositories store them."""
    db: Database[dict[str, Any]] = MongoClient(mongodb_url)["jobyard"]
    tasks = [
        a_task(name=f"seeded {i}", owner_id=owner, kind="http" if i % 2 else "noop")
        for i in range(SEED_TASKS)
    ]
    db.tasks.insert_many([task.to_mongo() for task in tasks])
    now, batch = utcnow(), []
    for n in range(executions):
        at = now - timedelta(minutes=n // SEED_TASKS, seconds=n % 60)
        done = an_execution(
            tasks[n % SEED_TASKS],
            scheduled_for=at,
            status=OUTCOMES[n % 100],
            attempts=1,
            started_at=at,
            completed_at=at,
            duration_ms=12,
            created_at=at,
        )
        batch.append(done.to_mongo())
        if len(batch) == 5000:
            db.executions.insert_many(batch, ordered=False)
            batch = []
    if batch:
        db.executions.insert_many(batch, ordered=False)


def measure(console: httpx.Client, pages: list[str], found: dict[str, str], repeats: int) -> dict[str, float]:
    times = {}
    for page in pages:
        path = page.format(**found)
        server_ms(console.get(path))  # warm
        times[page] = statistics.median(server_ms(console.get(path)) for _ in range(repeats))
    return times


def server_ms(answer: httpx.Response) -> float:
    found = re.search(r"app;dur=([\d.]+)", answer.headers.get("server-timing", ""))
    if answer.status_code != 200 or found is None:
        raise SystemExit(f"GET {answer.request.url} answered {answer.status_code}: {answer.text[:300]}")
    return float(found[1])


def signed_in(base: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    form = client.get("/sign-in").text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token, form
    client.post("/sign-in", data={"email": "admin@example.com", "password": password, "csrf": token[1]})
    return client


def ids(api: str, headers: dict[str, str]) -> dict[str, str]:
    """One of each thing a detail page shows, created as a newcomer would."""
    task = httpx.post(f"{api}/api/v1/tasks", json={"name": "bench", "kind": "noop"}, headers=headers).json()
    for n in range(20):
        httpx.post(f"{api}/api/v1/tasks", json={"name": f"bench {n}", "kind": "noop"}, headers=headers)
    deadline = time.monotonic() + 60
    while (
        httpx.get(f"{api}/api/v1/executions/{task['executionId']}", headers=headers).json()["status"]
        != "completed"
    ):
        if time.monotonic() > deadline:
            raise SystemExit("the bench task did not complete")
        time.sleep(0.2)
    logs = httpx.get(f"{api}/api/v1/imports", headers=headers).json()["items"]
    jobs = httpx.get(f"{api}/api/v1/jobs", headers=headers).json()["items"]
    return {
        "import": logs[0]["id"],
        "job": jobs[0]["id"],
        "task": task["id"],
        "execution": task["executionId"],
    }


def run(repeats: int, executions: int) -> dict[str, Any]:
    with ExitStack() as opened:
        folder = Path(opened.enter_context(tempfile.TemporaryDirectory()))
        redis_url = opened.enter_context(redis_for_tests(folder / "redis"))
        stack = opened.enter_context(dev_stack(folder / "data", redis_url))
        stack.env["JOBYARD_CONSOLE_COOKIE_SECURE"] = "false"  # httpx keeps Secure cookies to https
        banner = stack.up()
        password = admin_password(banner)
        mongodb_url = re.search(r"mongodb://\S+", banner)
        assert mongodb_url, banner
        api = f"http://127.0.0.1:{stack.api_port}"
        login = httpx.post(
            f"http://127.0.0.1:{stack.auth_port}/auth/v1/login",
            json={"email": "admin@example.com", "password": password},
        ).json()
        headers = {"Authorization": f"Bearer {login['accessToken']}"}
        found = ids(api, headers)
        console = signed_in(f"http://127.0.0.1:{stack.console_port}", password)
        pages = measure(console, PAGES, found, repeats)
        healthz = statistics.median(server_ms(console.get("/healthz")) for _ in range(repeats))
        owner = httpx.get(f"{api}/api/v1/tasks/{found['task']}", headers=headers).json()["ownerId"]
        started = time.monotonic()
        seed(mongodb_url[0], owner, executions)
        seeded_s = time.monotonic() - started
        loaded = measure(console, LOADED, found, repeats)
    return {
        "repeats": repeats,
        "pagesMs": pages,
        "healthzMs": healthz,
        "targetMs": TARGET_MS,
        "executionsStored": executions,
        "loadedPagesMs": loaded,
        "seedSeconds": round(seeded_s, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--executions", type=int, default=100_000)
    args = parser.parse_args()
    results = run(args.repeats, args.executions)
    record("console", results)
    out = sys.stdout.write
    out(
        f"console server time per page, make run's data, median of {args.repeats} (target < {TARGET_MS} ms):\n"
    )
    for page, ms in results["pagesMs"].items():
        out(f"  {page:28} {ms:7.1f} ms\n")
    out(f"  {'/healthz (baseline)':28} {results['healthzMs']:7.1f} ms\n")
    out(f"with {args.executions:,} more executions stored (written in {results['seedSeconds']} s):\n")
    for page, ms in results["loadedPagesMs"].items():
        out(f"  {page:40} {ms:7.1f} ms{'' if ms < TARGET_MS else '  (over target)'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
