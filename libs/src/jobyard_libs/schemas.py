"""What every JSON body and list shares: camelCase on the wire, one page shape, one id parser.

API schemas are built from the stored documents (:mod:`jobyard_libs.documents`) with
``model_validate``: their attribute names match, so a schema lists what it shows and
nothing maps fields by hand.

Usage
-----

::

    class ImportLogOut(ApiModel):
        total_fetched: int
    ImportLogOut(total_fetched=3).model_dump(by_alias=True)
    # → {'totalFetched': 3}
    page_of(found, params, ImportLogOut.model_validate)   # a repository's Slice → Page
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from jobyard_libs.documents import StoredDocument, parse_id
from jobyard_libs.errors import ValidationFailed
from jobyard_libs.listing import MAX_OFFSET, TOTAL_CAP, BadCursor, Cursor, Slice, Window

T = TypeVar("T")
S = TypeVar("S", bound=StoredDocument)
MAX_PAGE_SIZE = 100


class ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", from_attributes=True
    )


class Reply(ApiModel):
    """An answer another service reads (the console reads the monitor's): fields a newer
    sender adds are ignored, not refused, so a rolling update never breaks the reader."""

    model_config = ConfigDict(extra="ignore")


class Page(Reply, Generic[T]):
    """One page of a list, as the api sends it and a reader (the console) reads it."""

    items: list[T]
    page: int
    limit: int
    total: int = Field(description=f"items that match, counted up to {TOTAL_CAP:,} (see totalCapped)")
    total_capped: bool = Field(
        False, description=f"more than {TOTAL_CAP:,} match; ask ?total=exact for the exact count"
    )
    next_cursor: str | None = Field(
        None, description="the next page: pass it as ?cursor=; null on the last page"
    )


@dataclass(frozen=True)
class PageParams:
    page: int
    limit: int
    window: Window


async def page_params(
    page: Annotated[
        int, Query(ge=1, description="1-based page number (the first pages; then use cursor)")
    ] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="items per page")] = 20,
    cursor: Annotated[
        str | None, Query(max_length=512, description="a nextCursor: the page after it, however deep")
    ] = None,
    total: Annotated[
        Literal["capped", "exact"],
        Query(description=f"exact: count every match (capped: up to {TOTAL_CAP:,})"),
    ] = "capped",
) -> PageParams:
    """The page a list asks for: 422 naming ``page`` or ``cursor`` when it cannot be served."""
    skip = (page - 1) * limit
    if cursor is not None and page > 1:
        raise ValidationFailed("use page or cursor, not both", field="cursor")
    if skip > MAX_OFFSET:
        raise ValidationFailed(
            f"page starts beyond item {MAX_OFFSET:,}; follow nextCursor to go deeper", field="page"
        )
    try:
        start = Cursor.decode(cursor) if cursor is not None else None
    except BadCursor as exc:
        raise ValidationFailed(str(exc), field="cursor") from exc
    return PageParams(page, limit, Window(limit=limit, skip=skip, cursor=start, exact_total=total == "exact"))


def page_of(found: Slice[S], params: PageParams, view: Callable[[S], T]) -> Page[T]:
    """A repository's slice as the API's page, each item through ``view`` (a schema's
    ``model_validate``, or a service's view that adds what only some callers see)."""
    return Page[Any](
        items=[view(item) for item in found.items],
        page=params.page,
        limit=params.limit,
        total=found.total,
        total_capped=found.total_capped,
        next_cursor=found.next_cursor,
    )


Pagination = Annotated[PageParams, Depends(page_params)]


def path_id(name: str) -> Any:
    """``Depends`` for the path parameter ``name`` holding an id: a malformed one is a 422
    naming ``name`` (an id of ours is 24 hex digits, no secret); an unknown one is the
    service's 404.

    ::

        TaskId = Annotated[Oid, path_id("task_id")]
    """

    async def parse(**values: str) -> Any:
        parsed = parse_id(values[name])
        if parsed is None:
            raise ValidationFailed("not an id (24 hexadecimal digits)", field=name)
        return parsed

    parameter = inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[str, Path(max_length=64)]
    )
    parse.__signature__ = inspect.Signature([parameter])  # type: ignore[attr-defined]
    return Depends(parse)
