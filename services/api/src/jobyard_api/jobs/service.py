"""Imported postings: filtered, paginated, every filter backed by an index."""

from __future__ import annotations

from jobyard_libs.documents import Oid
from jobyard_libs.errors import NotFoundError, found
from jobyard_libs.imports.documents import Job
from jobyard_libs.imports.jobs import JobFilters, JobRepository
from jobyard_libs.listing import Slice, Window
from jobyard_libs.mongo import Database


class JobNotFound(NotFoundError):
    message = "job not found"


class JobService:
    def __init__(self, db: Database) -> None:
        self.repository = JobRepository(db)

    async def page(self, window: Window, **filters: str | None) -> Slice[Job]:
        """Newest first; ``filters`` are :class:`JobFilters`' fields (unset: not filtered)."""
        return await self.repository.page(JobFilters(**filters), window)

    async def get(self, job_id: Oid) -> Job:
        return found(await self.repository.get(job_id), JobNotFound)
