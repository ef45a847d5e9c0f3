from __future__ import annotations

from jobyard_libs.schemas import ApiModel
from pydantic import Field


class ImportStartIn(ApiModel):
    feed_urls: list[str] | None = Field(None, min_length=1, max_length=100)
