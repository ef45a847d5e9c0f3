from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from jobyard_libs.schemas import Page

from jobyard_api.deps import CurrentPrincipal, Jobs, Pagination
from jobyard_api.jobs.schemas import JobDetail, JobOut
from jobyard_api.jobs.service import to_detail, to_out

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
Filter = Annotated[str | None, Query(max_length=500)]


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
    filters = {"feedUrl": feed_url, "company": company, "location": location, "jobType": job_type}
    items, total = await jobs.page(filters, q, page.skip, page.limit)
    return Page(items=[to_out(d) for d in items], page=page.page, limit=page.limit, total=total)


@router.get("/{job_id}")
async def get_job(job_id: str, _: CurrentPrincipal, jobs: Jobs) -> JobDetail:
    return to_detail(await jobs.get(job_id))
