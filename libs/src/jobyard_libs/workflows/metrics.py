"""Workflow metrics, counted by the process that made the change (the winner of its
conditional update: each counted once, whichever process it was)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

WORKFLOWS = Counter(
    "jobyard_workflows_total",
    "Workflows by event: started (a one-time one submitted; a delayed one, or a recurring one's run, started "
    "by the scheduler's leader), completed, failed, cancelled.",
    ["event"],
)
STEP_WAIT = Histogram(
    "jobyard_workflow_step_wait_seconds",
    "From the moment a step could start (its last dependency ended; its workflow's submission, for a "
    "first step) to its executions being queued: what the workflow itself adds.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
STORED_LATE = Counter(
    "jobyard_workflow_steps_stored_late_total",
    "Steps whose executions were stored by a later advance (the reconciler's): their starter died between "
    "the step's start and the store.",
)
OLDEST_QUIET = Gauge(
    "jobyard_workflow_oldest_quiet_seconds",
    "How long the running workflow that moved least recently has not moved (a step starting or ending); "
    "set by the scheduler's leader at each housekeeping.",
)
