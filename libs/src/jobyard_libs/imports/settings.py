"""Settings of the feed import, read by the scheduler, the worker and the api."""

from __future__ import annotations

from pydantic import Field

from jobyard_libs.egress import EgressGuard
from jobyard_libs.feeds.fetcher import FetchOptions
from jobyard_libs.settings import EgressSettings


class ImportSettings(EgressSettings):
    feeds: list[str] = Field(
        default_factory=list,
        description="Feed URLs (JSON list) stored as feed sources on first start.",
    )
    import_batch_size: int = Field(200, ge=1, le=5000, description="Postings per queued batch.")
    import_max_retries: int = Field(
        3, ge=0, le=20, description="Retries of a failed batch before it is dead."
    )
    import_min_backoff_ms: int = Field(
        2000, ge=1, description="First retry delay of a batch (doubles each time)."
    )
    import_max_backoff_ms: int = Field(8000, ge=1, description="Longest retry delay of a batch.")
    import_concurrency: int = Field(
        4, ge=1, le=64, description="Feeds fetched and parsed at once by one run."
    )
    import_stale_after_seconds: int = Field(
        1800,
        ge=10,
        description="A running import with no progress for this long (its worker died) is abandoned; "
        "a new start for its feed then runs instead of joining it.",
    )
    import_resume_after_seconds: int = Field(
        60,
        ge=1,
        description="A running import with no progress for this long has what Redis lost of it (its run "
        "message, unapplied batches) sent again by the scheduler's leader.",
    )
    import_failed_jobs_limit: int = Field(
        1000, ge=0, description="failedJobs entries kept per import log (all are counted)."
    )
    feed_max_bytes: int = Field(256 * 1024 * 1024, ge=1024, description="Largest feed accepted, in bytes.")
    feed_connect_timeout_seconds: float = Field(10, gt=0, description="Connect timeout fetching a feed.")
    feed_read_timeout_seconds: float = Field(30, gt=0, description="Read timeout fetching a feed.")
    feed_fetch_timeout_seconds: float = Field(
        600, gt=0, description="Longest one fetch of a feed may take, redirects and download included."
    )
    feed_max_redirects: int = Field(5, ge=0, description="Redirects followed fetching a feed.")
    feed_fetch_attempts: int = Field(3, ge=1, description="Attempts on timeouts, connection errors and 5xx.")
    feed_fetch_backoff_seconds: float = Field(1.0, ge=0, description="Wait before the 2nd attempt (doubles).")

    def fetch_options(self) -> FetchOptions:
        return FetchOptions(
            attempts=self.feed_fetch_attempts, backoff_seconds=self.feed_fetch_backoff_seconds
        )

    def feed_guard(self) -> EgressGuard:
        """Feed fetches and their redirects: the egress rules, with the feed's own limits."""
        return EgressGuard(
            self.egress_policy(
                max_bytes=self.feed_max_bytes,
                timeout_seconds=self.feed_fetch_timeout_seconds,
                connect_timeout_seconds=self.feed_connect_timeout_seconds,
                read_timeout_seconds=self.feed_read_timeout_seconds,
                max_redirects=self.feed_max_redirects,
            )
        )
