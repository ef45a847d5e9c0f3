"""Writes the imported jobs matching a filter to a CSV, downloadable from the execution.

The filter is the one ``GET /api/v1/jobs`` takes. At most ``JOBYARD_EXPORT_MAX_ROWS`` rows
are written (the result says when more matched); the file is kept for
``JOBYARD_ARTIFACT_TTL_SECONDS`` and served only to the task's owner at
``GET /api/v1/executions/{id}/artifact``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jobyard_libs.auth import Role

NAME = "export-jobs-csv"
ROLES = frozenset(Role)


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    feed_url: str | None = Field(None, alias="feedUrl", max_length=2048)
    company: str | None = Field(None, max_length=500)
    location: str | None = Field(None, max_length=500)
    job_type: str | None = Field(None, alias="jobType", max_length=500)
    q: str | None = Field(None, max_length=200)
    limit: int | None = Field(
        None, ge=1, description="at most this many rows (never more than the server's cap)"
    )
