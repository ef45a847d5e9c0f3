"""Writes the imported jobs matching a filter to a CSV, downloadable from the execution.

The filter is the one ``GET /api/v1/jobs`` takes. Rows stream from MongoDB into GridFS,
so memory stays flat however many jobs match. Download:
``GET /api/v1/executions/{id}/artifact``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jobyard_libs.imports.jobs import JobRepository, jobs_query
from jobyard_libs.tasks.artifacts import ArtifactRepository

NAME = "export-jobs-csv"
COLUMNS = ("id", "externalId", "title", "company", "location", "category", "jobType", "region", "salary", "url",
           "publishedAt", "feedUrl")  # fmt: skip
ROWS_PER_PART = 1000


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    feed_url: str | None = Field(None, alias="feedUrl", max_length=2048)
    company: str | None = Field(None, max_length=500)
    location: str | None = Field(None, max_length=500)
    job_type: str | None = Field(None, alias="jobType", max_length=500)
    q: str | None = Field(None, max_length=200)
    limit: int = Field(1_000_000, ge=1, le=10_000_000)


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else str(value)


async def run(context: Any, payload: Payload) -> dict[str, Any]:
    filters = {
        "feedUrl": payload.feed_url,
        "company": payload.company,
        "location": payload.location,
        "jobType": payload.job_type,
    }
    cursor = JobRepository(context.resources.db).listing(jobs_query(filters, payload.q)).limit(payload.limit)
    rows = 0

    async def parts() -> AsyncIterator[bytes]:
        nonlocal rows
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        async for job in cursor:
            writer.writerow([_cell(job["_id"] if column == "id" else job.get(column)) for column in COLUMNS])
            rows += 1
            if rows % ROWS_PER_PART == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()

    file_id, size = await ArtifactRepository(context.resources.db).write(
        filename=f"jobs-{context.execution_id}.csv", content_type="text/csv; charset=utf-8",
        execution_id=context.execution_id, owner_id=context.owner_id, parts=parts(),
    )  # fmt: skip
    return {"artifactId": str(file_id), "rows": rows, "bytes": size}
