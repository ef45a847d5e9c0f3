"""A workflow as stored: its steps keyed by id (each step's state is one path,
``steps.<id>.status``, changed by a conditional update) and their order as submitted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from jobyard_libs.documents import Oid, StoredDocument
from jobyard_libs.mongo import utcnow
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
    ended: list[Oid] = Field(default_factory=list)  # a forEach step's runs noted as ended
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
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None

    @classmethod
    def of(cls, owner_id: str, name: str, specs: list[StepSpec], queue_of: dict[str, str]) -> Workflow:
        return cls(
            owner_id=owner_id,
            name=name,
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

    def inputs_of(self, step_id: str) -> dict[str, Any]:
        """What a step receives: each dependency's result, by step id (``None``: none)."""
        return {name: self.steps[name].result for name in self.steps[step_id].depends_on}
