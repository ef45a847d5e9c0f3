"""Import metrics of the process that runs the pipeline (the worker's run_feed actor, or
the CronJob's ``jobyard-scheduler import``). Completion is counted where batches finish
(the worker); the monitor exports each feed's last run from MongoDB, which survives any
process."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RUNS = Counter(
    "jobyard_import_runs_total",
    "Feed runs, by feed and outcome: queued (parsed, batches sent), not_modified, failed.",
    ["feed", "outcome"],
)
ITEMS = Counter(
    "jobyard_import_items_total",
    "Items read from feeds, by feed and result: fetched, failed.",
    ["feed", "result"],
)
FETCH_DURATION = Histogram(
    "jobyard_import_fetch_duration_seconds",
    "Time to fetch a feed (the download, with retries and redirects).",
    ["feed"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
