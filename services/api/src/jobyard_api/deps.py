"""Dependency aliases so that every route reads in one line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from jobyard_libs.auth import AdminPrincipal, CurrentPrincipal
from jobyard_libs.rate_limit import RateLimiter
from jobyard_libs.retention import RetentionPolicy

from jobyard_api.audit.service import AuditService
from jobyard_api.callbacks.service import CallbackService
from jobyard_api.dead_letters.service import DeadLetterService
from jobyard_api.executions.service import ExecutionService
from jobyard_api.feed_sources.service import FeedSourceService
from jobyard_api.imports.service import ImportService
from jobyard_api.jobs.service import JobService
from jobyard_api.tasks.service import TaskService
from jobyard_api.workflows.service import WorkflowService


@dataclass
class ApiContext:
    feed_sources: FeedSourceService
    imports: ImportService
    jobs: JobService
    tasks: TaskService
    executions: ExecutionService
    dead_letters: DeadLetterService
    callbacks: CallbackService
    submit_limit: RateLimiter
    audit: AuditService
    retention: RetentionPolicy
    workflows: WorkflowService


def _part(name: str) -> Callable[[Request], Any]:
    """A dependency returning one part of the app's ApiContext (set up in app.py)."""

    async def get(request: Request) -> Any:
        return getattr(request.app.state.api, name)

    return get


FeedSources = Annotated[FeedSourceService, Depends(_part("feed_sources"))]
Imports = Annotated[ImportService, Depends(_part("imports"))]
Jobs = Annotated[JobService, Depends(_part("jobs"))]
Tasks = Annotated[TaskService, Depends(_part("tasks"))]
Executions = Annotated[ExecutionService, Depends(_part("executions"))]
DeadLetters = Annotated[DeadLetterService, Depends(_part("dead_letters"))]
Callbacks = Annotated[CallbackService, Depends(_part("callbacks"))]
SubmitLimit = Annotated[RateLimiter, Depends(_part("submit_limit"))]
Audit = Annotated[AuditService, Depends(_part("audit"))]
Retention = Annotated[RetentionPolicy, Depends(_part("retention"))]
Workflows = Annotated[WorkflowService, Depends(_part("workflows"))]
__all__ = ["AdminPrincipal", "CurrentPrincipal"]
