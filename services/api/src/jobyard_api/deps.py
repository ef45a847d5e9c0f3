"""Dependency aliases so that every route reads in one line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from jobyard_libs.auth import AdminPrincipal, CurrentPrincipal
from jobyard_libs.schemas import PageParams, page_params

from jobyard_api.feed_sources.service import FeedSourceService
from jobyard_api.imports.service import ImportService
from jobyard_api.jobs.service import JobService


@dataclass
class ApiContext:
    feed_sources: FeedSourceService
    imports: ImportService
    jobs: JobService


def _context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.api
    return context


def _feed_sources(request: Request) -> FeedSourceService:
    return _context(request).feed_sources


def _imports(request: Request) -> ImportService:
    return _context(request).imports


def _jobs(request: Request) -> JobService:
    return _context(request).jobs


FeedSources = Annotated[FeedSourceService, Depends(_feed_sources)]
Imports = Annotated[ImportService, Depends(_imports)]
Jobs = Annotated[JobService, Depends(_jobs)]
Pagination = Annotated[PageParams, Depends(page_params)]
__all__ = ["AdminPrincipal", "CurrentPrincipal"]
