"""export-jobs-csv: matching jobs streamed into a CSV file kept as the execution's artifact.

Cells a spreadsheet would read as a formula (starting with ``= + - @``, a tab or a carriage
return) are written with a leading apostrophe, so a hostile feed cannot plant formulas
in the file a person opens (OWASP: CSV injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from jobyard_libs.imports.jobs import JobFilters, JobRepository
from jobyard_libs.mongo import utcnow
from jobyard_libs.tasks.artifacts import ArtifactRepository
from jobyard_libs.tasks.kinds.export_jobs_csv import NAME, Payload

if TYPE_CHECKING:
    from jobyard_worker.tasks.runners import KindContext

__all__ = ["NAME", "cell", "run"]
COLUMNS = (
    "id",
    "externalId",
    "title",
    "company",
    "location",
    "category",
    "jobType",
    "region",
    "salary",
    "url",
    "publishedAt",
    "feedUrl",
)
ROWS_PER_PART = 1000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    text = value.isoformat() if isinstance(value, datetime) else ("" if value is None else str(value))
    return "'" + text if text.startswith(FORMULA_STARTS) else text


async def run(context: KindContext, payload: Payload) -> dict[str, Any]:
    filters = JobFilters(
        feed_url=payload.feed_url,
        company=payload.company,
        location=payload.location,
        job_type=payload.job_type,
        title=payload.q,
    )
    cap = min(payload.limit or context.settings.export_max_rows, context.settings.export_max_rows)
    # one row past the cap tells whether more matched
    jobs = JobRepository(context.db).stream(filters, cap + 1)
    rows = 0
    more = False

    async def parts() -> AsyncIterator[bytes]:
        nonlocal rows, more
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        async for job in jobs:
            if rows == cap:
                more = True
                break
            fields = job.model_dump(by_alias=True)
            writer.writerow([cell(job.id if column == "id" else fields.get(column)) for column in COLUMNS])
            rows += 1
            if rows % ROWS_PER_PART == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()

    file_id, size = await ArtifactRepository(context.db).write(
        filename=f"jobs-{context.execution_id}.csv",
        content_type="text/csv; charset=utf-8",
        execution_id=context.execution_id,
        owner_id=context.owner_id,
        parts=parts(),
        expires_at=utcnow() + timedelta(seconds=context.settings.artifact_ttl_seconds),
    )
    context.log.info("exported", rows=rows, bytes=size, truncated=more)
    return {"artifactId": str(file_id), "rows": rows, "bytes": size, "truncated": more}
