"""A real Prometheus scrapes the running services: queue depth read back through its API,
and every dashboard and alert expression parses and names only metrics that exist."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from jobyard_devstack.dashboards import expressions
from jobyard_devstack.net import free_port, wait_until
from jobyard_operator import metrics as operator_metrics
from prometheus_client import Counter, Histogram
from prometheus_client.metrics import MetricWrapperBase

from tests.conftest import Isolation
from tests.support.auth_service import AuthService
from tests.support.feed_server import FeedServer
from tests.support.processes import bin_path, running_process, running_service
from tests.support.prometheus import Prometheus, running_prometheus

ROOT = Path(__file__).parents[3]
RULES = ROOT / "charts/jobyard/files/prometheus/alerts.yaml"
HIGH, DEFAULT = 5, 7  # tasks the worker runs (tasks.high) and tasks left waiting (tasks.default)


@dataclass
class Platform:
    prometheus: Prometheus
    api: str
    admin: dict[str, str]


@pytest.fixture
def platform(
    isolation: Isolation, auth: AuthService, feeds: FeedServer, tmp_path: Path
) -> Iterator[Platform]:
    feed = feeds.serve("/jobicy.xml", fixture="jobicy.xml")
    worker_port, scheduler_port = free_port(), free_port()
    env = {
        **isolation.env(),
        "JOBYARD_AUTH_URL": auth.url,
        "JOBYARD_AUTH_JWKS_URL": auth.jwks_url,
        "JOBYARD_FEEDS": f'["{feed}"]',
        "JOBYARD_MONITOR_REFRESH_SECONDS": "0.5",
        "JOBYARD_WORKER_METRICS_PORT": str(worker_port),
        "JOBYARD_WORKER_METRICS_DIR": str(tmp_path / "worker-metrics"),
        "JOBYARD_SCHEDULER_METRICS_PORT": str(scheduler_port),
        "JOBYARD_SCHEDULER_TICK_SECONDS": "0.2",
    }
    worker = [
        bin_path("jobyard-worker"),
        "--processes",
        "2",
        "--threads",
        "2",
        "--queues",
        "imports",
        "tasks.high",
    ]
    with (
        running_service([bin_path("jobyard-api"), "serve"], env, tmp_path / "api.log") as api,
        running_service([bin_path("jobyard-monitor"), "serve"], env, tmp_path / "monitor.log") as monitor,
        running_process(worker, env, tmp_path / "worker.log", f"http://127.0.0.1:{worker_port}/healthz"),
        running_process(
            [bin_path("jobyard-scheduler"), "run"],
            env,
            tmp_path / "scheduler.log",
            f"http://127.0.0.1:{scheduler_port}/metrics",
        ),
    ):
        targets = {
            "auth": auth.url.removeprefix("http://"),
            "api": api.removeprefix("http://"),
            "monitor": monitor.removeprefix("http://"),
            "worker": f"127.0.0.1:{worker_port}",
            "scheduler": f"127.0.0.1:{scheduler_port}",
        }
        with running_prometheus(targets, tmp_path) as prometheus:
            yield Platform(prometheus, api, auth.admin_headers())


def _work(platform: Platform) -> None:
    """Tasks for the worker, tasks left waiting, a delayed one for the scheduler, an import."""
    batch = [{"name": f"h{i}", "kind": "noop", "priority": 9} for i in range(HIGH)]
    batch += [{"name": f"d{i}", "kind": "noop", "priority": 5} for i in range(DEFAULT)]
    with httpx.Client(base_url=platform.api, headers=platform.admin, timeout=30) as http:
        # the delayed task first, due a moment after it is sent: a slow batch cannot make it
        # late before it is even stored (the scheduler fires a past-due run as soon as it sees it)
        soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        later = {"name": "later", "kind": "noop", "priority": 9, "type": "delayed", "scheduledAt": soon}
        for path, body in (
            ("/api/v1/tasks", later),
            ("/api/v1/tasks:batch", {"tasks": batch}),
            ("/api/v1/imports", {}),
        ):
            response = http.post(path, json=body)
            assert response.status_code in (201, 202), response.text


def _until(prometheus: Prometheus, expr: str, expected: float, timeout: float = 90) -> None:
    seen: list[float | None] = []

    def reached() -> bool:
        seen.append(prometheus.value(expr))
        return seen[-1] == expected

    try:
        wait_until(reached, timeout=timeout, what=f"{expr} == {expected}", interval=0.2)
    except TimeoutError as exc:
        raise AssertionError(
            f"{exc}; last values {seen[-5:]}; monitor stats: {prometheus.query('jobyard_queue_messages')}"
        ) from exc


def _exported_by_operator() -> set[str]:
    """The operator needs a cluster to run; its series names come from its metric definitions."""
    names = set()
    for metric in vars(operator_metrics).values():
        if isinstance(metric, MetricWrapperBase):
            base = metric._name  # prometheus_client keeps no public accessor
            if isinstance(metric, Counter):
                names.add(f"{base}_total")
            elif isinstance(metric, Histogram):
                names.update(f"{base}_{suffix}" for suffix in ("bucket", "sum", "count"))
            else:
                names.add(base)
    return names


def test_prometheus_scrapes_the_platform(platform: Platform) -> None:
    prometheus = platform.prometheus
    wait_until(
        lambda: all(prometheus.targets_up().values()) and len(prometheus.targets_up()) == 5,
        timeout=30,
        what="every target up",
    )
    _work(platform)

    # queue depth, read back through Prometheus: the tasks no worker consumes wait, ready
    _until(prometheus, 'jobyard_queue_messages{queue="tasks.default",state="ready"}', DEFAULT)
    # the worker's two processes, summed: every high-priority task (and the delayed one) succeeded
    _until(prometheus, 'sum(jobyard_worker_messages_total{queue="tasks.high",outcome="succeeded"})', HIGH + 1)
    _until(prometheus, 'sum(jobyard_task_executions_recent{kind="noop",status="completed"})', HIGH + 1)
    _until(prometheus, "jobyard_scheduler_leader_present", 1)
    _until(prometheus, 'sum(jobyard_scheduler_runs_total{outcome="fired"})', 1)
    _until(prometheus, "max(jobyard_import_consecutive_failures)", 0)
    wait_until(
        lambda: (prometheus.value('sum(jobyard_import_last_items{result="fetched"})') or 0) > 0,
        timeout=60,
        what="the import's counts",
    )

    # every expression of the dashboards and the alert rules parses, and names only metrics that exist
    rules = [r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    exported = prometheus.names() | _exported_by_operator()
    for expr in [*expressions(), *rules]:
        concrete = re.sub(r"\$\w+", ".*", expr)  # dashboard variables
        answer = prometheus.query(concrete)
        assert answer["status"] == "success", f"{expr}: {answer.get('error')}"
        for name in re.findall(r"\bjobyard_[a-z0-9_]+\b", expr):
            assert name in exported, f"{expr} names {name}, which no service exports"
