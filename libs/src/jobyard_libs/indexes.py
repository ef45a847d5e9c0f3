"""Every index of the collections the api, worker and scheduler share, in one list.

Each repository declares what its queries need next to them; a service creates this list
at start-up (creating an index that exists is a no-op), so any of them may start first.
"""

from __future__ import annotations

from jobyard_libs import audit, retention
from jobyard_libs.imports import feed_sources, import_logs, jobs, raw_feeds
from jobyard_libs.mongo import IndexSpec
from jobyard_libs.tasks import artifacts, repository
from jobyard_libs.workflows import repository as workflows

SHARED_INDEXES: list[IndexSpec] = [
    *feed_sources.INDEXES,
    *import_logs.INDEXES,
    *jobs.INDEXES,
    *raw_feeds.INDEXES,
    *repository.INDEXES,
    *artifacts.INDEXES,
    *audit.INDEXES,
    *retention.INDEXES,
    *workflows.INDEXES,
]
