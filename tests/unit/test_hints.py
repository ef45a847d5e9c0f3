"""When a query names its index (``jobyard_libs.mongo.hint_of``): the rule every listing
and look-up goes through, whichever server the suite runs on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from jobyard_libs.imports import jobs
from jobyard_libs.mongo import HINTS, hint_for, hint_of, hint_option

PER_FEED = next(spec for spec in jobs.FILTER_INDEXES if spec.keys[0][0] == "feedUrl")


@pytest.fixture
def hints_taken() -> Iterator[None]:
    before, HINTS.enabled = HINTS.enabled, True
    yield
    HINTS.enabled = before


@pytest.mark.usefixtures("hints_taken")
def test_an_equality_on_the_leading_field_alone_names_no_index() -> None:
    # every planner takes the index then; secantusd-py, given the hint, walks it whole
    assert hint_of({"feedUrl": "https://a.example/feed"}, PER_FEED) is None
    assert hint_option({"feedUrl": "https://a.example/feed"}, PER_FEED) == {}


@pytest.mark.usefixtures("hints_taken")
@pytest.mark.parametrize(
    "query",
    [
        {"feedUrl": "https://a.example/feed", "company": "x"},  # another index's field too
        {"feedUrl": {"$in": ["https://a.example/feed"]}},  # not an equality
        {"$and": [{"feedUrl": "https://a.example/feed"}, {"createdAt": {"$lte": 1}}]},  # a cursor's page
    ],
)
def test_any_other_query_names_its_index(query: dict[str, object]) -> None:
    assert hint_of(query, PER_FEED) == PER_FEED.name
    assert hint_option(query, PER_FEED) == {"hint": PER_FEED.name}


@pytest.mark.usefixtures("hints_taken")
def test_an_unfiltered_list_names_the_list_index() -> None:
    assert hint_for({}, jobs.FILTER_INDEXES, jobs.LIST_INDEX) is jobs.LIST_INDEX
    assert hint_of({}, jobs.LIST_INDEX) == jobs.LIST_INDEX.name
    assert hint_for({"feedUrl": "x"}, jobs.FILTER_INDEXES, jobs.LIST_INDEX) is PER_FEED


def test_a_server_that_takes_no_hints_gets_none() -> None:
    before, HINTS.enabled = HINTS.enabled, False
    try:
        assert hint_of({"feedUrl": "x", "company": "y"}, PER_FEED) is None
    finally:
        HINTS.enabled = before
