"""Benchmark: the console's server time per page, on the data ``make run`` creates.

``jobyard-dev up`` (the sample feeds imported, the first admin) plus a few tasks and a dead
letter; then every page is fetched ``--repeats`` times as the admin, and the console's own
``Server-Timing`` (its whole work for the page, api calls included) is read. Target: every
page under 150 ms. Baseline: ``/healthz`` of the same console (the cost of no work).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from bench.infra import redis_for_tests
from bench.results import record
from tests.support.devstack import admin_password, dev_stack

TARGET_MS = 150
PAGES = [
    "/", "/imports", "/imports/{import}", "/jobs", "/jobs?q=engineer", "/jobs/{job}", "/tasks", "/tasks/new",
    "/tasks/{task}", "/executions", "/executions?status=dead", "/executions/{execution}", "/dead-letters",
    "/api-keys", "/workers", "/admin/feed-sources", "/admin/users",
]  # fmt: skip


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


def run(repeats: int) -> dict[str, Any]:
    with ExitStack() as opened:
        folder = Path(opened.enter_context(tempfile.TemporaryDirectory()))
        redis_url = opened.enter_context(redis_for_tests(folder / "redis"))
        stack = opened.enter_context(dev_stack(folder / "data", redis_url))
        stack.env["JOBYARD_CONSOLE_COOKIE_SECURE"] = "false"  # httpx keeps Secure cookies to https
        password = admin_password(stack.up())
        api = f"http://127.0.0.1:{stack.api_port}"
        token = httpx.post(f"http://127.0.0.1:{stack.auth_port}/auth/v1/login",
                           json={"email": "admin@example.com", "password": password}).json()["accessToken"]  # fmt: skip
        found = ids(api, {"Authorization": f"Bearer {token}"})
        console = signed_in(f"http://127.0.0.1:{stack.console_port}", password)
        pages: dict[str, float] = {}
        for page in PAGES:
            path = page.format(**found)
            server_ms(console.get(path))  # warm
            pages[page] = statistics.median(server_ms(console.get(path)) for _ in range(repeats))
        healthz = statistics.median(server_ms(console.get("/healthz")) for _ in range(repeats))
    return {"repeats": repeats, "pagesMs": pages, "healthzMs": healthz, "targetMs": TARGET_MS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    results = run(args.repeats)
    record("console", results)
    out = sys.stdout.write
    out(
        f"console server time per page, make run's data, median of {args.repeats} (target < {TARGET_MS} ms):\n"
    )
    for page, ms in results["pagesMs"].items():
        out(f"  {page:28} {ms:7.1f} ms\n")
    out(f"  {'/healthz (baseline)':28} {results['healthzMs']:7.1f} ms\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
