from __future__ import annotations

import io
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jobyard_libs.feeds.errors import FeedFormatError, HostileFeed
from jobyard_libs.feeds.parser import ItemFailure, ParsedJob, iter_feed

from tests.support.feed_factory import write_feed
from tests.support.feed_server import FIXTURES, FeedServer


def parse(name: str) -> list[ParsedJob | ItemFailure]:
    with (FIXTURES / name).open("rb") as f:
        return list(iter_feed(f, f"https://feeds.example/{name}"))


def test_wp_job_manager_fields_match_on_local_name() -> None:
    entries = parse("jobicy.xml")
    jobs = [e for e in entries if isinstance(e, ParsedJob)]
    assert len(entries) == 6
    assert len(jobs) == 5
    first = jobs[0]
    assert first.external_id == "https://jobicy.com/?post_type=job_listing&p=128741"
    assert first.fields["title"] == "Senior Backend Engineer (Python)"
    assert first.fields["company"] == "Northwind Data"
    assert first.fields["location"] == "USA"
    assert first.fields["jobType"] == "Full-Time"
    assert first.fields["category"] == "Engineering"
    assert first.fields["salary"] == "$150,000 - $185,000"
    assert first.fields["url"] == "https://jobicy.com/jobs/128741-senior-backend-engineer-python"
    assert first.fields["publishedAt"] == datetime(2026, 11, 23, 8, 41, 5, tzinfo=UTC)
    assert first.fields["description"].startswith("<p>Northwind Data")
    assert first.fields["rawData"]["creator"] == "Jobicy"
    assert "description" not in first.fields["rawData"]


def test_a_bad_item_is_a_failure_with_its_id_and_the_rest_parse() -> None:
    entries = parse("jobicy.xml")
    failures = [e for e in entries if isinstance(e, ItemFailure)]
    assert failures == [ItemFailure("https://jobicy.com/?post_type=job_listing&p=128725", "missing title")]
    unreadable_date = next(
        e for e in entries if isinstance(e, ParsedJob) and e.fields["title"] == "Data Analyst"
    )
    assert unreadable_date.fields["publishedAt"] is None  # a bad date never costs a posting


def test_plain_rss_and_failure_by_position() -> None:
    entries = parse("higheredjobs.xml")
    jobs = [e for e in entries if isinstance(e, ParsedJob)]
    assert [j.fields["category"] for j in jobs][:2] == ["Admissions and Enrollment", "Registrar"]
    no_guid = jobs[2]
    assert no_guid.external_id == "https://www.higheredjobs.com/admin/details.cfm?JobCode=178933790"
    assert jobs[0].fields["publishedAt"] == datetime(2026, 11, 23, 10, 31, tzinfo=UTC)  # EST → UTC
    assert entries[-1] == ItemFailure("item #5", "missing title")


def test_atom() -> None:
    entries = parse("atom.xml")
    jobs = [e for e in entries if isinstance(e, ParsedJob)]
    assert [j.external_id for j in jobs] == [
        "urn:example:job:sre-1",
        "urn:example:job:writer-2",
        "urn:example:job:em-3",
    ]
    assert jobs[0].fields["url"] == "https://careers.example.org/jobs/sre-1"
    assert jobs[0].fields["publishedAt"] == datetime(2026, 11, 22, 13, 30, tzinfo=UTC)
    assert jobs[0].fields["category"] == "Engineering"
    assert jobs[1].fields["description"] == "<p>Write docs people love.</p>"
    assert entries[-1] == ItemFailure("urn:example:job:untitled-4", "missing title")


def test_items_without_guid_or_link_get_a_stable_hash_id() -> None:
    body = b"<rss><channel><item><title>Only a title</title></item></channel></rss>"
    first = next(iter(iter_feed(io.BytesIO(body), "u")))
    second = next(iter(iter_feed(io.BytesIO(body), "u")))
    assert isinstance(first, ParsedJob)
    assert isinstance(second, ParsedJob)
    assert first.external_id == second.external_id
    assert len(first.external_id) == 32


@pytest.mark.parametrize(
    ("name", "error", "words"),
    [
        ("billion_laughs.xml", HostileFeed, "declares the entity 'lol'"),
        ("xxe.xml", HostileFeed, "declares the entity 'secret'"),
        ("not_a_feed.html", FeedFormatError, "root element is <html>"),
        ("truncated.xml", FeedFormatError, "malformed XML"),
    ],
)
def test_bad_documents(name: str, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words.replace("<", ".").replace(">", ".")):
        parse(name)


def test_an_external_dtd_is_never_fetched() -> None:
    server = FeedServer()
    try:
        server.serve("/evil.dtd", b'<!ENTITY remote "pwned">', content_type="application/xml-dtd")
        body = (
            f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{server.base_url}/evil.dtd">'
            "<rss><channel><item><title>&remote;</title></item></channel></rss>"
        ).encode()
        with pytest.raises(FeedFormatError):
            list(iter_feed(io.BytesIO(body), "u"))
        assert server.hits["/evil.dtd"] == 0
    finally:
        server.stop()


def test_parameter_entities_are_refused_too() -> None:
    body = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p "x">]><rss><channel/></rss>'
    with pytest.raises(HostileFeed, match="declares the entity 'p'"):
        list(iter_feed(io.BytesIO(body), "u"))


def _peak_bytes(items: int, tmp: Path) -> int:
    path = tmp / f"feed-{items}.xml"
    with path.open("wb") as out:
        write_feed(out, items)
    tracemalloc.start()
    with path.open("rb") as f:
        count = sum(1 for _ in iter_feed(f, "u"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == items
    return peak


def test_memory_stays_flat_as_the_feed_grows(tmp_path: Path) -> None:
    small = _peak_bytes(2_000, tmp_path)
    large = _peak_bytes(20_000, tmp_path)
    assert large < small * 1.5, (small, large)  # 10x the items, not 10x the memory
