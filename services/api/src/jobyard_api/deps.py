"""Dependency aliases so that every route reads in one line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from jobyard_libs.auth import AdminPrincipal, CurrentPrincipal
from jobyard_libs.rate_limit import RateLimiter
from jobyard_libs.schemas import PageParams, page_params

from jobyard_api.callbacks.service import CallbackService
from jobyard_api.executions.service import ExecutionService
from jobyard_api.feed_sources.service import FeedSourceService
from jobyard_api.imports.service import ImportService
from jobyard_api.jobs.service import JobService
from jobyard_api.tasks.service import TaskService


@dataclass
class ApiContext:
    feed_sources: FeedSourceService
    imports: ImportService
    jobs: JobService
    tasks: TaskService
    executions: ExecutionService
    submit_limit: RateLimiter
    callbacks: CallbackService


def _context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.api
    return context


def _feed_sources(request: Request) -> FeedSourceService:
    return _context(request).feed_sources


def _imports(request: Request) -> ImportService:
    return _context(request).imports


def _jobs(request: Request) -> JobService:
    return _context(request).jobs


def _tasks(request: Request) -> TaskService:
    return _context(request).tasks


def _executions(request: Request) -> ExecutionService:
    return _context(request).executions


def _submit_limit(request: Request) -> RateLimiter:
    return _context(request).submit_limit


FeedSources = Annotated[FeedSourceService, Depends(_feed_sources)]
Tasks = Annotated[TaskService, Depends(_tasks)]
Executions = Annotated[ExecutionService, Depends(_executions)]
SubmitLimit = Annotated[RateLimiter, Depends(_submit_limit)]
Imports = Annotated[ImportService, Depends(_imports)]
Jobs = Annotated[JobService, Depends(_jobs)]
Pagination = Annotated[PageParams, Depends(page_params)]
__all__ = ["AdminPrincipal", "CurrentPrincipal"]
