"""Runs a feed import: every enabled feed source, or the ones named."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jobyard_libs.imports.models import ImportTrigger
from jobyard_libs.imports.pipeline import ImportRunner

NAME = "import-feeds"


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    feed_urls: list[str] | None = Field(None, alias="feedUrls", max_length=100)


class UnknownFeeds(Exception):
    pass


async def run(context: Any, payload: Payload) -> dict[str, Any]:
    runner = ImportRunner(context.resources.db, context.broker, context.settings)
    if payload.feed_urls:
        sources = await runner.sources.by_urls(payload.feed_urls)
        unknown = sorted(set(payload.feed_urls) - {s["url"] for s in sources})
        if unknown:
            raise UnknownFeeds(f"not a feed source: {', '.join(unknown)}")
    else:
        sources = await runner.sources.enabled()
    outcomes = await runner.run_sources(sources, ImportTrigger.TASK)
    return {
        "importLogIds": [o.import_log_id for o in outcomes],
        "statuses": [str(o.status) for o in outcomes],
    }
