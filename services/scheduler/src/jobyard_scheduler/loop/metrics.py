"""The scheduler loop's metrics, served on ``JOBYARD_SCHEDULER_METRICS_PORT``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from jobyard_scheduler.loop.firing import TickResult

IS_LEADER = Gauge("jobyard_scheduler_is_leader", "1 while this scheduler holds the leader lease.")
RUNS = Counter(
    "jobyard_scheduler_runs_total",
    "Task runs the leader handled, by outcome: fired, skipped (misfire), paused_for_rights (its owner may "
    "no longer run it), queued, callback_overdue, "
    "requeued_lost (Redis lost the message), import_messages_resent, worker_lost (an attempt whose "
    "worker died, failed and retried), workflow_fired (a delayed workflow, or a run of a recurring one, "
    "started).",
    ["outcome"],
)
TICK_DURATION = Histogram(
    "jobyard_scheduler_tick_duration_seconds",
    "Time one leader tick takes (due tasks, queueing, overdue callbacks).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ERRORS = Counter(
    "jobyard_scheduler_errors_total",
    "Ticks that failed because a dependency was unreachable, by dependency: mongodb, redis.",
    ["dependency"],
)


def record_tick(result: TickResult, seconds: float) -> None:
    TICK_DURATION.observe(seconds)
    outcomes = {
        "fired": result.fired,
        "skipped": result.skipped,
        "paused_for_rights": result.paused_for_rights,
        "queued": result.queued,
        "callback_overdue": result.callbacks_overdue,
        "requeued_lost": result.requeued_lost,
        "import_messages_resent": result.import_messages_resent,
        "worker_lost": result.workers_lost,
        "workflow_fired": result.workflows_started,
    }
    for outcome, count in outcomes.items():
        if count:
            RUNS.labels(outcome).inc(count)
