from __future__ import annotations

from typing import Annotated

from jobyard_libs.schemas import ApiModel
from pydantic import AfterValidator, Field, HttpUrl


def _plain_url(value: HttpUrl) -> str:
    return str(value)


FeedUrl = Annotated[HttpUrl, AfterValidator(_plain_url)]


class FeedSourceIn(ApiModel):
    url: FeedUrl
    name: str | None = Field(None, max_length=200)
    enabled: bool = True


class FeedSourcePatch(ApiModel):
    url: FeedUrl | None = None
    name: str | None = Field(None, min_length=1, max_length=200)
    enabled: bool | None = None
