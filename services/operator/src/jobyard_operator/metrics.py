"""Prometheus metrics per WorkerAutoscaler (label ``autoscaler`` is ``<namespace>/<name>``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LABELS = ["namespace", "autoscaler"]

QUEUE_DEPTH = Gauge(
    "jobyard_autoscaler_queue_depth",
    "What the autoscaler's queues hold that needs a worker: ready + due delayed + in flight.",
    LABELS,
)
DESIRED_REPLICAS = Gauge("jobyard_autoscaler_desired_replicas", "Replicas the autoscaler wants.", LABELS)
CURRENT_REPLICAS = Gauge(
    "jobyard_autoscaler_current_replicas", "Replicas of the target Deployment at the last poll.", LABELS
)
MIN_REPLICAS = Gauge("jobyard_autoscaler_min_replicas", "The autoscaler's minReplicas.", LABELS)
MAX_REPLICAS = Gauge("jobyard_autoscaler_max_replicas", "The autoscaler's maxReplicas.", LABELS)
READY = Gauge("jobyard_autoscaler_ready", "1 when the last poll succeeded, else 0.", LABELS)
SCALINGS = Counter(
    "jobyard_autoscaler_scalings_total",
    "Scale patches sent, by direction (up, down).",
    [*LABELS, "direction"],
)
POLLS = Counter(
    "jobyard_autoscaler_polls_total",
    "Polls done, whatever they decided (a stalled operator stops counting).",
    LABELS,
)
POLL_ERRORS = Counter(
    "jobyard_autoscaler_poll_errors_total",
    "Polls that could not decide, by reason (RedisUnavailable, TargetNotFound, ...).",
    [*LABELS, "reason"],
)
POLL_DURATION = Histogram(
    "jobyard_autoscaler_poll_duration_seconds",
    "Time one poll takes: read the queues and the Deployment, decide, patch.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

_PER_AUTOSCALER = (QUEUE_DEPTH, DESIRED_REPLICAS, CURRENT_REPLICAS, MIN_REPLICAS, MAX_REPLICAS, READY, POLLS)


def forget(namespace: str, name: str) -> None:
    """Drop a deleted autoscaler's series, so dashboards do not show it frozen."""
    for gauge in _PER_AUTOSCALER:
        try:
            gauge.remove(namespace, name)
        except KeyError:
            continue
