"""Job postings: search, page through, detail; export the search as CSV."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response
from jobyard_libs.imports.replies import JobDetail, JobOut
from jobyard_libs.tasks.replies import TaskCreated

from jobyard_console.web import Changing, SignedIn, list_params, segment

router = APIRouter(tags=["jobs"])
FILTERS = ("q", "company", "location", "jobType", "feedUrl")


@router.get("/jobs", response_class=HTMLResponse)
async def job_list(page: SignedIn) -> HTMLResponse:
    query = list_params(page.request, *FILTERS)
    pager = await page.listing(JobOut, "/api/v1/jobs", query)
    return page.render("jobs.html", pager=pager)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
async def job_detail(page: SignedIn, job_id: str) -> HTMLResponse:
    return page.render(
        "job_detail.html", job=await page.api("GET", f"/api/v1/jobs/{segment(job_id)}", JobDetail)
    )


@router.post("/jobs/export")
async def export(
    page: Changing,
    q: Annotated[str, Form(max_length=200)] = "",
    company: Annotated[str, Form(max_length=500)] = "",
    location: Annotated[str, Form(max_length=500)] = "",
    job_type: Annotated[str, Form(alias="jobType", max_length=500)] = "",
    feed_url: Annotated[str, Form(alias="feedUrl", max_length=2048)] = "",
) -> Response:
    """Runs an ``export-jobs-csv`` task of the search shown; its execution's page (live) offers
    the file when done."""
    search = {"q": q, "company": company, "location": location, "jobType": job_type, "feedUrl": feed_url}
    payload = {k: v for k, v in search.items() if v}
    task = await page.api(
        "POST",
        "/api/v1/tasks",
        TaskCreated,
        json={"name": "CSV export", "kind": "export-jobs-csv", "payload": payload},
    )
    if task.execution_id:
        return page.back_to(
            f"/executions/{task.execution_id}", "Export started; the file is offered here when ready."
        )
    return page.back_to(f"/tasks/{task.id}", "Export started; its run's page offers the file when ready.")
