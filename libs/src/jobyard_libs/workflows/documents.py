"""A workflow as stored: its steps keyed by id (each step's state is one path,
``steps.<id>.status``, changed by a conditional update) and their order as submitted.

A delayed workflow is stored ``pending`` until the scheduler's leader starts it at its
``nextRunAt``. A recurring one stays ``pending`` (until cancelled): at each of its cron's
runs the leader stores a run of it, a one-time workflow of its own whose id is derived from
the recurring workflow's and the run's moment (:func:`jobyard_libs.documents.derived_id`), so two leaders, or one that
died and came back, store one run per moment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from jobyard_libs.documents import Oid, StoredDocument, derived_id
from jobyard_libs.mongo import utcnow
from jobyard_libs.tasks.models import DEFAULT_TIMEZONE, TaskType
from jobyard_libs.workflows.models import RunIf, StepSpec, StepStatus, WorkflowStatus


class Step(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", arbitrary_types_allowed=True
    )

    kind: str
    payload: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    run_if: RunIf = RunIf.ALL_SUCCEEDED
    for_each: str | None = None
    max_retries: int
    timeout_ms: int
    priority: int
    queue: str
    status: StepStatus = StepStatus.WAITING
    # its executions' ids (one, or one per forEach item), chosen before they are stored, so
    # a step that started once has these executions whoever (re)creates them: the one that
    # won the start, or the reconciler after a crash
    runs: list[Oid] = Field(default_factory=list)
    ended: list[Oid] = Field(
        default_factory=list
    )  # its runs noted as ended (by the processes that ended them)
    ended_count: int = 0  # len(ended), kept beside it: a run's note reads this back, not the lists
    width: int = 0  # len(runs), set with them
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None


class Workflow(StoredDocument):
    owner_id: str
    name: str
    status: WorkflowStatus = WorkflowStatus.RUNNING
    cancel_requested: bool = False  # no step starts once it is set
    order: list[str]
    steps: dict[str, Step]
    type: TaskType = TaskType.ONE_TIME
    scheduled_at: datetime | None = None  # delayed: when it starts
    cron: str | None = None  # recurring: when its runs start
    timezone: str = DEFAULT_TIMEZONE
    next_run_at: datetime | None = None  # pending: when the leader starts it, or its next run
    last_run_at: datetime | None = None
    run_count: int = 0
    fence: int | None = None  # the fencing token of the last leader that started it or a run
    recurring_id: Oid | None = None  # a run's recurring workflow
    scheduled_for: datetime | None = None  # a run's moment
    cancel_reason: str | None = None  # cancelled before it started, by the scheduler: why
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None

    @classmethod
    def of(
        cls,
        owner_id: str,
        name: str,
        specs: list[StepSpec],
        queue_of: dict[str, str],
        *,
        type: TaskType = TaskType.ONE_TIME,
        scheduled_at: datetime | None = None,
        cron: str | None = None,
        timezone: str = DEFAULT_TIMEZONE,
        next_run_at: datetime | None = None,
    ) -> Workflow:
        """A one-time workflow runs from now; a delayed or recurring one waits, ``pending``,
        for ``next_run_at``."""
        now = utcnow()
        waits = type is not TaskType.ONE_TIME
        return cls(
            owner_id=owner_id,
            name=name,
            status=WorkflowStatus.PENDING if waits else WorkflowStatus.RUNNING,
            type=type,
            scheduled_at=scheduled_at,
            cron=cron,
            timezone=timezone,
            next_run_at=next_run_at,
            created_at=now,
            started_at=None if waits else now,
            updated_at=now,
            order=[spec.id for spec in specs],
            steps={
                spec.id: Step(
                    kind=spec.kind,
                    payload=spec.payload,
                    depends_on=spec.depends_on,
                    run_if=spec.run_if,
                    for_each=spec.for_each,
                    max_retries=spec.max_retries,
                    timeout_ms=spec.timeout_ms,
                    priority=spec.priority,
                    queue=queue_of[spec.id],
                )
                for spec in specs
            },
        )

    def run_at(self, due: datetime) -> Workflow:
        """This recurring workflow's run at ``due``: its steps, afresh, running from now."""
        now = utcnow()
        fresh: dict[str, Any] = {
            "status": StepStatus.WAITING,
            "runs": [],
            "ended": [],
            "ended_count": 0,
            "width": 0,
            "started_at": None,
            "finished_at": None,
            "result": None,
            "error": None,
        }
        return Workflow(
            id=derived_id(self.id, due),
            owner_id=self.owner_id,
            name=self.name,
            order=list(self.order),
            steps={name: step.model_copy(update=fresh, deep=True) for name, step in self.steps.items()},
            recurring_id=self.id,
            scheduled_for=due,
            timezone=self.timezone,
            created_at=now,
            started_at=now,
            updated_at=now,
        )

    def inputs_of(self, step_id: str) -> dict[str, Any]:
        """What a step receives: each dependency's result, by step id (``None``: none)."""
        return {name: self.steps[name].result for name in self.steps[step_id].depends_on}
