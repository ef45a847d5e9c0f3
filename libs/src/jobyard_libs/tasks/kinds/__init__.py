"""What a task runs: one module per kind, each a payload schema and one function.

The api validates a task's payload against its kind's schema; the worker runs the
kind's function with the validated payload, inside the task's time limit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from jobyard_libs.tasks.kinds import export_jobs_csv, http, import_feeds, noop, sleep, webhook_callback


@dataclass(frozen=True)
class KindContext:
    """What a kind's function may use."""

    execution_id: str
    owner_id: str
    attempt: int
    resources: Any  # jobyard_libs.app.Resources in the worker
    settings: Any  # the worker's settings
    broker: Any  # the worker's Dramatiq broker


@dataclass(frozen=True)
class Kind:
    name: str
    payload: type[BaseModel]
    run: Callable[[KindContext, Any], Awaitable[dict[str, Any]]]
    description: str


KINDS: dict[str, Kind] = {
    module.NAME: Kind(module.NAME, module.Payload, module.run, (module.__doc__ or "").strip().splitlines()[0])
    for module in (noop, sleep, http, import_feeds, export_jobs_csv, webhook_callback)
}
