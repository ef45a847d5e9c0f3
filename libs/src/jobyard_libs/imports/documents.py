"""The feed import's stored documents: ``feed_sources``, ``import_logs``, ``jobs``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from jobyard_libs.documents import Oid, StoredDocument
from jobyard_libs.imports.models import ImportStatus, ImportTrigger, content_hash
from jobyard_libs.mongo import utcnow


class FeedSource(StoredDocument):
    """A feed the hourly import fetches, with its HTTP validators and last run.

    ``etag``/``last_modified`` are those of the last import that *completed* (parsed and
    applied): a run that failed keeps the ones before it, so a broken answer is never
    taken as "not modified" later. ``last_outcome`` is the last real parse's (completed or
    failed; a 304 is not one)."""

    url: str
    name: str
    enabled: bool = True
    etag: str | None = None
    last_modified: str | None = None
    last_run_at: datetime | None = None
    last_status: str | None = None
    last_outcome: str | None = None
    last_success_at: datetime | None = None
    last_import_log_id: Oid | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class FailedJob(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    reason: str


class ImportLog(StoredDocument):
    """One run of one feed: what was fetched, what it became, how far its batches got."""

    feed_url: str
    file_name: str
    feed_source_id: Oid | None = None
    trigger: ImportTrigger
    request_id: str | None = None
    requested_by: str | None = None
    progress_at: datetime | None = None
    status: ImportStatus = ImportStatus.PENDING
    timestamp: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    runner: str | None = None  # the worker process running its fetch and parse (its broker id)
    fetched_at: datetime | None = None
    finished_at: datetime | None = None
    http_status: int | None = None
    etag: str | None = None  # the answer's validators: the feed's own once this import completes
    last_modified: str | None = None
    bytes: int | None = None
    total_fetched: int = 0
    total_imported: int = 0
    new_jobs: int = 0
    updated_jobs: int = 0
    unchanged_jobs: int = 0
    failed_count: int = 0
    failed_jobs: list[FailedJob] = Field(default_factory=list)
    batches_total: int | None = None
    batch_size: int | None = None
    batches_applied: int = 0
    batches_failed: int = 0
    batches_done: int = 0
    applied_batch_ids: list[str] = Field(default_factory=list)
    error: str | None = None


class PostingFields(BaseModel):
    """What a feed says of one posting: a posting on its way in, and the stored job, share it."""

    feed_url: str
    title: str
    description: str | None = None  # sanitised HTML (jobyard_libs.feeds.html)
    description_text: str | None = None  # the same as plain text; None until sanitised
    company: str | None = None
    location: str | None = None
    category: str | None = None
    job_type: str | None = None
    region: str | None = None
    salary: str | None = None
    url: str | None = None
    published_at: datetime | None = None
    raw_data: dict[str, Any] = Field(default_factory=dict)


class Job(StoredDocument, PostingFields):
    """One imported posting, unique on ``(feedUrl, externalId)``."""

    external_id: str
    title_words: list[str] = Field(default_factory=list)
    posted_at: datetime | None = None
    content_hash: str | None = None
    last_batch_id: str | None = None
    last_change: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Posting(PostingFields):
    """One parsed posting on its way into ``jobs``: what a batch message carries (the parser's
    fields, camelCase), typed. ``stored()`` is what is written; ``content_hash`` what decides
    whether a stored posting changed."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    external_id: str = Field(min_length=1)

    def stored(self) -> dict[str, Any]:
        """The posting's fields as ``jobs`` stores them (its id aside: the key is separate)."""
        return self.model_dump(by_alias=True, exclude={"external_id"}, exclude_unset=True)

    @property
    def content_hash(self) -> str:
        return content_hash(self.stored())


class PostingUpdate(BaseModel):
    """A stored posting whose content changed: written only if it still has ``old_hash``."""

    posting: Posting
    old_hash: str
