from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from jobyard_libs.documents import Oid
from jobyard_libs.imports.replies import JobDetail, JobOut
from jobyard_libs.schemas import Page, Pagination, page_of, path_id

from jobyard_api.deps import CurrentPrincipal, Jobs

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
Filter = Annotated[str | None, Query(max_length=500)]
JobId = Annotated[Oid, path_id("job_id")]


@router.get("")
async def list_jobs(
    _: CurrentPrincipal,
    jobs: Jobs,
    page: Pagination,
    feed_url: Annotated[str | None, Query(alias="feedUrl", max_length=2048)] = None,
    company: Filter = None,
    location: Filter = None,
    job_type: Annotated[str | None, Query(alias="jobType", max_length=500)] = None,
    q: Annotated[str | None, Query(max_length=200, description="words that must all be in the title")] = None,
) -> Page[JobOut]:
    """Imported postings, newest first (by publication date)."""
    found = await jobs.page(
        page.window, feed_url=feed_url, company=company, location=location, job_type=job_type, title=q
    )
    return page_of(found, page, JobOut.model_validate)


@router.get("/{job_id}")
async def get_job(job_id: JobId, _: CurrentPrincipal, jobs: Jobs) -> JobDetail:
    return JobDetail.model_validate(await jobs.get(job_id))
