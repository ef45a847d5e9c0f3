"""What each task kind does, run by the worker inside the attempt's time limit.

Each kind's payload schema and who may submit it are the contract in
``jobyard_libs.tasks.kinds``; here is the code that runs it, one module per kind, each a
``run(context, payload)`` returning the execution's result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from dramatiq import Broker
from jobyard_libs.egress import EgressGuard
from jobyard_libs.imports.import_logs import OnChange
from jobyard_libs.mongo import Database
from jobyard_libs.queue.liveness import WorkerLiveness

from jobyard_worker.settings import WorkerSettings
from jobyard_worker.tasks.journal import AttemptLog
from jobyard_worker.tasks.runners import export_jobs_csv, http, import_feeds, noop, sleep, webhook_callback


@dataclass(frozen=True)
class KindContext:
    """What a kind's code may use: the execution it runs for, and the worker's means."""

    execution_id: str
    task_id: str
    owner_id: str
    attempt: int
    db: Database
    broker: Broker
    settings: WorkerSettings
    guard: EgressGuard  # every outbound call a user aims goes through it
    on_import_change: OnChange  # the live import events (import-feeds)
    liveness: WorkerLiveness  # whose runs may be taken over (import-feeds)
    log: AttemptLog  # what the kind logs here is kept with the attempt (capped, redacted)


Runner = Callable[[KindContext, Any], Awaitable[dict[str, Any]]]
RUNNERS: dict[str, Runner] = {
    module.NAME: module.run for module in (noop, sleep, http, import_feeds, export_jobs_csv, webhook_callback)
}
