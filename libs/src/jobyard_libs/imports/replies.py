"""What the api answers about imports, postings (jobs) and feed sources: its response
models, and what the console (or any client in Python) reads them as.

Usage
-----

::

    ImportLogOut.model_validate(log)                     # the api, from a stored ImportLog
    Page[ImportLogOut].model_validate(response.json())   # a reader, from the api's answer
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from jobyard_libs.documents import IdStr
from jobyard_libs.imports.models import ImportStatus
from jobyard_libs.schemas import Reply


class ImportRun(Reply):
    feed_url: str
    import_log_id: str
    joined: bool = Field(description="the feed's import was already running: this is its log, not a new run")


class ImportStarted(Reply):
    import_log_ids: list[str]
    feed_urls: list[str]
    joined: bool = Field(description="every feed asked for was already being imported (nothing new started)")
    runs: list[ImportRun]


class FailedJobOut(Reply):
    id: str
    reason: str


class ImportLogOut(Reply):
    id: IdStr
    feed_url: str
    file_name: str
    status: ImportStatus
    trigger: str
    timestamp: datetime
    started_at: datetime | None
    finished_at: datetime | None
    total_fetched: int
    total_imported: int
    new_jobs: int
    updated_jobs: int
    unchanged_jobs: int
    failed_count: int
    batches_total: int | None
    batches_applied: int
    batches_failed: int
    error: str | None


class ImportLogDetail(ImportLogOut):
    failed_jobs: list[FailedJobOut]
    fetched_at: datetime | None
    http_status: int | None
    bytes: int | None
    request_id: str | None


class JobOut(Reply):
    id: IdStr
    external_id: str
    title: str
    company: str | None
    location: str | None
    category: str | None
    job_type: str | None
    region: str | None
    salary: str | None
    url: str | None
    feed_url: str
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime


class JobDetail(JobOut):
    description: str | None = Field(
        description="sanitised HTML: basic formatting and http(s)/mailto links only, made safe at import"
    )
    description_text: str | None = Field(None, description="the description as plain text")
    raw_data: dict[str, Any]


class FeedSourceOut(Reply):
    id: IdStr
    url: str
    name: str
    enabled: bool
    etag: str | None
    last_modified: str | None
    last_run_at: datetime | None
    last_status: str | None
    last_success_at: datetime | None
    last_import_log_id: IdStr | None
    created_at: datetime
    updated_at: datetime
