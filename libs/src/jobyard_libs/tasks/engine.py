"""The task engine wired once, for every process that changes executions (api, worker,
scheduler): the lifecycle (every status change, and the events, counts and webhooks it sets
off) and the outcomes (what follows a failed attempt) on that process's clients.

Usage
-----

::

    engine = TaskEngine.on(resources, broker, settings)  # the worker adds group commits
    await engine.lifecycle.cancel(execution)
    await engine.outcomes.failed(execution, error="boom")
"""

from __future__ import annotations

from dataclasses import dataclass

from dramatiq import Broker

from jobyard_libs.app import Resources
from jobyard_libs.tasks.claims import AttemptClaims
from jobyard_libs.tasks.lifecycle import GROUP_MAX, ExecutionEffects, ExecutionLifecycle
from jobyard_libs.tasks.outcomes import Outcomes
from jobyard_libs.tasks.repository import DeadLetterRepository, ExecutionRepository
from jobyard_libs.tasks.settings import TaskSettings


@dataclass(frozen=True)
class TaskEngine:
    lifecycle: ExecutionLifecycle
    outcomes: Outcomes

    @classmethod
    def on(
        cls,
        resources: Resources,
        broker: Broker,
        settings: TaskSettings,
        *,
        group_commit: float | None = None,
        group_size: int = GROUP_MAX,
        holder: str | None = None,
        claims_in_redis: bool = False,
    ) -> TaskEngine:
        """``group_commit`` (seconds), ``group_size`` and ``holder``: a worker's, whose claims
        and ends are written together (:class:`ExecutionLifecycle`); ``claims_in_redis``: its
        attempts are claimed in Redis, each claim kept past its timeout for the stale grace
        and the heartbeat timeout (what a dead worker's message takes to come back)."""
        db = resources.db
        effects = ExecutionEffects.of(resources.events, broker)
        lifecycle = ExecutionLifecycle(
            db,
            effects,
            group_commit=group_commit,
            group_size=group_size,
            holder=holder,
            claims=AttemptClaims(resources.redis, resources.keys) if claims_in_redis else None,
            claim_grace_ms=int(settings.task_stale_grace_seconds * 1000)
            + settings.queue_heartbeat_timeout_ms,
        )
        outcomes = Outcomes(lifecycle, ExecutionRepository(db), DeadLetterRepository(db), broker, settings)
        return cls(lifecycle, outcomes)
