"""Base models for every JSON body: camelCase on the wire, snake_case in Python.

Examples
--------
>>> class ImportLogOut(ApiModel):
...     total_fetched: int
>>> ImportLogOut(total_fetched=3).model_dump(by_alias=True)
{'totalFetched': 3}
"""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

T = TypeVar("T")
MAX_PAGE_SIZE = 100


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Page(ApiModel, Generic[T]):
    items: list[T]
    page: int
    limit: int
    total: int


class PageParams(ApiModel):
    page: int = 1
    limit: int = 20

    @property
    def skip(self) -> int:
        return (self.page - 1) * self.limit


def page_params(
    page: Annotated[int, Query(ge=1, le=100_000, description="1-based page number")] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="items per page")] = 20,
) -> PageParams:
    return PageParams(page=page, limit=limit)
