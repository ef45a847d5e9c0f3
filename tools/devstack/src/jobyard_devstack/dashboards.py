"""The Grafana dashboards the chart ships, generated so that they stay small and alike.

``jobyard-dev dashboards`` writes ``charts/jobyard/files/dashboards/*.json``; a test fails
when the files and this module disagree, and another checks every expression against the
metrics the running services export.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DASHBOARDS_DIR = Path("charts/jobyard/files/dashboards")


@dataclass(frozen=True)
class Panel:
    title: str
    targets: list[tuple[str, str]]  # (PromQL, legend)
    unit: str = "short"
    kind: str = "timeseries"
    width: int = 12


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    panels: list[Panel]
    variables: list[tuple[str, str]] = field(default_factory=list)  # (name, label_values query)

    def render(self) -> dict[str, Any]:
        panels, x, y = [], 0, 0
        for number, panel in enumerate(self.panels, start=1):
            if x + panel.width > 24:
                x, y = 0, y + 8
            panels.append(
                {
                    "id": number,
                    "type": panel.kind,
                    "title": panel.title,
                    "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    "gridPos": {"x": x, "y": y, "w": panel.width, "h": 8},
                    "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
                    "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                    "targets": [
                        {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
                        for i, (expr, legend) in enumerate(panel.targets)
                    ],
                }
            )
            x += panel.width
        templating: list[dict[str, Any]] = [
            {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"}
        ]
        templating += [
            {
                "name": name,
                "type": "query",
                "label": name,
                "includeAll": True,
                "multi": True,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "query": {"query": query, "refId": name},
                "refresh": 2,
            }
            for name, query in self.variables
        ]
        return {
            "uid": self.uid,
            "title": self.title,
            "tags": ["jobyard"],
            "schemaVersion": 39,
            "time": {"from": "now-6h", "to": "now"},
            "refresh": "30s",
            "editable": True,
            "templating": {"list": templating},
            "panels": panels,
        }


OVERVIEW = Dashboard(
    "jobyard-overview",
    "Jobyard / Overview",
    [
        Panel(
            "Messages processed /s by outcome",
            [("sum by (outcome) (rate(jobyard_worker_messages_total[5m]))", "{{outcome}}")],
            "ops",
        ),
        Panel(
            "HTTP requests /s by service",
            [("sum by (service) (rate(jobyard_http_requests_total[5m]))", "{{service}}")],
            "reqps",
        ),
        Panel(
            "HTTP 5xx ratio by service",
            [
                (
                    'sum by (service) (rate(jobyard_http_requests_total{status=~"5.."}[5m]))'
                    " / sum by (service) (rate(jobyard_http_requests_total[5m]))",
                    "{{service}}",
                )
            ],
            "percentunit",
        ),
        Panel(
            "HTTP p99 latency by service",
            [
                (
                    "histogram_quantile(0.99, sum by (service, le) "
                    "(rate(jobyard_http_request_duration_seconds_bucket[5m])))",
                    "{{service}}",
                )
            ],
            "s",
        ),
        Panel(
            "Queue depth (ready + due + in flight)",
            [('sum by (queue) (jobyard_queue_messages{state=~"ready|due|in_flight"})', "{{queue}}")],
        ),
        Panel(
            "Oldest waiting message",
            [("max by (queue) (jobyard_queue_oldest_message_age_seconds)", "{{queue}}")],
            "s",
        ),
        Panel(
            "Live workers, messages in progress",
            [
                ("jobyard_workers_live", "workers"),
                ("sum(jobyard_worker_messages_in_progress)", "in progress"),
            ],
        ),
        Panel("Dead messages", [('sum by (queue) (jobyard_queue_messages{state="dead"})', "{{queue}}")]),
        Panel(
            "Scheduler leader present",
            [("max(jobyard_scheduler_leader_present)", "leader")],
            kind="stat",
            width=6,
        ),
        Panel(
            "Monitor refresh age",
            [("time() - max(jobyard_monitor_last_refresh_timestamp_seconds)", "age")],
            "s",
            kind="stat",
            width=6,
        ),
        Panel(
            "Sign-ins /s by result",
            [("sum by (method, result) (rate(jobyard_auth_logins_total[5m]))", "{{method}} {{result}}")],
            "ops",
        ),
    ],
)

IMPORTS = Dashboard(
    "jobyard-imports",
    "Jobyard / Imports",
    [
        Panel(
            "Hours since last successful import",
            [('(time() - jobyard_import_last_success_timestamp_seconds{feed=~"$feed"}) / 3600', "{{feed}}")],
            "h",
            kind="stat",
            width=24,
        ),
        Panel("Consecutive failures", [('jobyard_import_consecutive_failures{feed=~"$feed"}', "{{feed}}")]),
        Panel(
            "Last import: items by result",
            [('sum by (result) (jobyard_import_last_items{feed=~"$feed"})', "{{result}}")],
        ),
        Panel(
            "Import batches processed /s by outcome",
            [('sum by (outcome) (rate(jobyard_worker_messages_total{queue="imports"}[5m]))', "{{outcome}}")],
            "ops",
        ),
        Panel(
            "Import batch p95 duration",
            [
                (
                    "histogram_quantile(0.95, sum by (actor, le) "
                    '(rate(jobyard_worker_message_duration_seconds_bucket{queue="imports"}[5m])))',
                    "{{actor}}",
                )
            ],
            "s",
        ),
        Panel(
            "Imports queue depth", [('sum by (state) (jobyard_queue_messages{queue="imports"})', "{{state}}")]
        ),
        Panel(
            "Feed runs /h by outcome",
            [
                (
                    'sum by (feed, outcome) (increase(jobyard_import_runs_total{feed=~"$feed"}[1h]))',
                    "{{feed}} {{outcome}}",
                )
            ],
        ),
        Panel(
            "Feed fetch p95",
            [
                (
                    "histogram_quantile(0.95, sum by (feed, le) "
                    '(rate(jobyard_import_fetch_duration_seconds_bucket{feed=~"$feed"}[1h])))',
                    "{{feed}}",
                )
            ],
            "s",
        ),
    ],
    variables=[("feed", "label_values(jobyard_import_last_run_timestamp_seconds, feed)")],
)

TASKS = Dashboard(
    "jobyard-tasks",
    "Jobyard / Tasks",
    [
        Panel(
            "Executions ended /s by kind and status (retrying: attempts retried)",
            [
                (
                    'sum by (kind, status) (jobyard_task_executions_recent{kind=~"$kind"})'
                    " / scalar(max(jobyard_task_stats_window_seconds))",
                    "{{kind}} {{status}}",
                )
            ],
            "ops",
        ),
        Panel(
            "Dead ratio by kind (of the executions that ended)",
            [
                (
                    'sum by (kind) (jobyard_task_executions_recent{kind=~"$kind",status="dead"})'
                    ' / sum by (kind) (jobyard_task_executions_recent{kind=~"$kind",status!="retrying"})',
                    "{{kind}}",
                )
            ],
            "percentunit",
        ),
        Panel(
            "Run time percentiles",
            [('jobyard_task_duration_seconds{kind=~"$kind"}', "{{kind}} p{{quantile}}")],
            "s",
        ),
        Panel(
            "Due to done latency percentiles",
            [('jobyard_task_latency_seconds{kind=~"$kind"}', "{{kind}} p{{quantile}}")],
            "s",
        ),
        Panel(
            "Depth by task queue",
            [('sum by (queue, state) (jobyard_queue_messages{queue=~"tasks.*"})', "{{queue}} {{state}}")],
        ),
        Panel(
            "Worker messages /s by task queue and outcome",
            [
                (
                    'sum by (queue, outcome) (rate(jobyard_worker_messages_total{queue=~"tasks.*"}[5m]))',
                    "{{queue}} {{outcome}}",
                )
            ],
            "ops",
        ),
        Panel(
            "Scheduler runs /s by outcome",
            [("sum by (outcome) (rate(jobyard_scheduler_runs_total[5m]))", "{{outcome}}")],
            "ops",
        ),
        Panel(
            "Scheduler tick p99",
            [
                (
                    "histogram_quantile(0.99, sum by (le) (rate(jobyard_scheduler_tick_duration_seconds_bucket[5m])))",
                    "p99",
                )
            ],
            "s",
        ),
    ],
    variables=[("kind", "label_values(jobyard_task_executions_recent, kind)")],
)

AUTOSCALING = Dashboard(
    "jobyard-autoscaling",
    "Jobyard / Autoscaling",
    [
        Panel(
            "Replicas: desired vs current",
            [
                ('jobyard_autoscaler_desired_replicas{autoscaler=~"$autoscaler"}', "{{autoscaler}} desired"),
                ('jobyard_autoscaler_current_replicas{autoscaler=~"$autoscaler"}', "{{autoscaler}} current"),
                ('jobyard_autoscaler_max_replicas{autoscaler=~"$autoscaler"}', "{{autoscaler}} max"),
            ],
            width=24,
        ),
        Panel(
            "Queue depth seen by the autoscaler",
            [('jobyard_autoscaler_queue_depth{autoscaler=~"$autoscaler"}', "{{autoscaler}}")],
        ),
        Panel(
            "Scale patches /h by direction",
            [
                (
                    'sum by (autoscaler, direction) (increase(jobyard_autoscaler_scalings_total{autoscaler=~"$autoscaler"}[1h]))',
                    "{{autoscaler}} {{direction}}",
                )
            ],
        ),
        Panel("Ready", [('jobyard_autoscaler_ready{autoscaler=~"$autoscaler"}', "{{autoscaler}}")]),
        Panel(
            "Poll errors /s by reason",
            [
                (
                    'sum by (autoscaler, reason) (rate(jobyard_autoscaler_poll_errors_total{autoscaler=~"$autoscaler"}[5m]))',
                    "{{autoscaler}} {{reason}}",
                )
            ],
            "ops",
        ),
        Panel(
            "Poll p99 duration",
            [
                (
                    "histogram_quantile(0.99, sum by (le) (rate(jobyard_autoscaler_poll_duration_seconds_bucket[5m])))",
                    "p99",
                )
            ],
            "s",
        ),
    ],
    variables=[("autoscaler", "label_values(jobyard_autoscaler_desired_replicas, autoscaler)")],
)

DASHBOARDS = {"overview": OVERVIEW, "imports": IMPORTS, "tasks": TASKS, "autoscaling": AUTOSCALING}


def rendered() -> dict[str, str]:
    """File name → JSON text, as committed."""
    return {f"{name}.json": json.dumps(d.render(), indent=2) + "\n" for name, d in DASHBOARDS.items()}


def expressions() -> list[str]:
    return [expr for d in DASHBOARDS.values() for p in d.panels for expr, _ in p.targets]


def write(root: Path) -> list[Path]:
    folder = root / DASHBOARDS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered().items():
        (folder / name).write_text(text)
        written.append(folder / name)
    return written
