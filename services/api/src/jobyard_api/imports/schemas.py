from __future__ import annotations

from datetime import datetime

from jobyard_libs.documents import IdStr
from jobyard_libs.imports.models import ImportStatus
from jobyard_libs.schemas import ApiModel
from pydantic import Field


class ImportStartIn(ApiModel):
    feed_urls: list[str] | None = Field(None, min_length=1, max_length=100)


class ImportRun(ApiModel):
    feed_url: str
    import_log_id: str
    joined: bool = Field(description="the feed's import was already running: this is its log, not a new run")


class ImportStarted(ApiModel):
    import_log_ids: list[str]
    feed_urls: list[str]
    joined: bool = Field(description="every feed asked for was already being imported (nothing new started)")
    runs: list[ImportRun]


class FailedJob(ApiModel):
    id: str
    reason: str


class ImportLogOut(ApiModel):
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
    failed_jobs: list[FailedJob]
    fetched_at: datetime | None
    http_status: int | None
    bytes: int | None
    request_id: str | None
