"""``jobyard-scheduler import`` as the Kubernetes CronJob runs it."""

from __future__ import annotations

import json
import os
import subprocess

from tests.conftest import Isolation
from tests.support.feed_server import FeedServer
from tests.support.processes import bin_path


def _run(isolation: Isolation, feeds: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **isolation.env(),
        "JOBYARD_FEEDS": json.dumps(feeds),
        "JOBYARD_FEED_FETCH_BACKOFF_SECONDS": "0.01",
    }
    return subprocess.run(
        [bin_path("jobyard-scheduler"), "import", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_prints_one_json_summary_and_exits_zero(isolation: Isolation, feeds: FeedServer) -> None:
    url = feeds.serve("/atom.xml", fixture="atom.xml")
    result = _run(isolation, [url])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["status"] == "ok"
    assert summary["sources"] == 1
    assert summary["imports"][0]["status"] == "processing"  # handed to the worker
    assert summary["imports"][0]["totalFetched"] == 4


def test_exits_non_zero_when_a_source_fails(isolation: Isolation, feeds: FeedServer) -> None:
    good = feeds.serve("/atom.xml", fixture="atom.xml")
    bad = feeds.serve("/laughs.xml", fixture="billion_laughs.xml")
    result = _run(isolation, [good, bad])
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert summary["status"] == "failed"
    assert summary["failedSources"] == 1
    failed = next(i for i in summary["imports"] if i["feedUrl"] == bad)
    assert "hostile XML" in failed["error"]


def test_unknown_feed_is_a_clear_error(isolation: Isolation, feeds: FeedServer) -> None:
    result = _run(isolation, [], "--feed", "https://nowhere.example/feed")
    assert result.returncode == 2
    assert "not a feed source: https://nowhere.example/feed" in result.stderr
    assert result.stdout == ""


def test_production_refuses_the_test_clock(isolation: Isolation) -> None:
    env = {
        **os.environ,
        **isolation.env(),
        "JOBYARD_ENVIRONMENT": "production",
        "JOBYARD_WEBHOOK_SECRET": "a-real-secret-of-32-characters!!",
        "JOBYARD_SCHEDULER_CLOCK_SPEED": "300",
    }
    result = subprocess.run(
        [bin_path("jobyard-scheduler"), "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "JOBYARD_SCHEDULER_CLOCK_SPEED" in result.stderr
    assert "Traceback" not in result.stderr
