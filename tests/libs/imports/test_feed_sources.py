"""What a feed source remembers of its imports: validators only from completed ones, and
a run's end never overwritten by the runner's late word that it was in flight."""

from __future__ import annotations

from typing import Any

from jobyard_libs.imports.feed_sources import FeedSourceRepository
from jobyard_libs.imports.models import ImportStatus
from jobyard_libs.mongo import utcnow

from tests.support.factories import a_feed_source, an_import_log, store

URL = "https://feeds.example/jobs.xml"


async def test_validators_come_from_completed_imports_and_an_end_is_never_undone(db: Any) -> None:
    sources = FeedSourceRepository(db)
    await store(db, a_feed_source(URL, etag='"good"'))
    broken = an_import_log(URL, status=ImportStatus.FAILED, etag='"broken"', finished_at=utcnow())
    await sources.record_run(broken)
    source = await sources.by_url(URL)
    assert source is not None and (source.etag, source.last_outcome) == ('"good"', "failed")

    run = an_import_log(URL, status=ImportStatus.COMPLETED, etag='"new"', finished_at=utcnow())
    await sources.record_run(run)  # the batch that finished it
    await sources.record_run(run.model_copy(update={"status": ImportStatus.PROCESSING}))  # the runner, late
    source = await sources.by_url(URL)
    assert source is not None
    assert (source.last_status, source.last_outcome, source.etag) == ("completed", "completed", '"new"')
    assert source.last_success_at == run.finished_at
