"""Large, realistic WP Job Manager feeds made on the fly (tests, benchmarks)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import IO

HEAD = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:job_listing="https://jobicy.com">
<channel><title>Generated jobs</title><link>https://jobs.example</link>
"""
TAIL = b"</channel></rss>\n"
COMPANIES = ["Northwind Data", "Bloomly", "Helpwise GmbH", "Cuenta", "Acme Robotics", "Globex"]
LOCATIONS = ["USA", "Europe", "Germany", "LATAM", "Anywhere", "Canada"]
TYPES = ["Full-Time", "Part-Time", "Contract"]


def item(i: int, *, revision: int = 0) -> bytes:
    published = (datetime(2026, 11, 23, tzinfo=UTC) - timedelta(minutes=i)).strftime(
        "%a, %d %b %Y %H:%M:%S +0000"
    )
    edit = f" (rev {revision})" if revision else ""
    return (
        f"<item><title>Engineer {i}{edit}</title>"
        f"<link>https://jobs.example/jobs/{i}</link>"
        f"<pubDate>{published}</pubDate>"
        f'<guid isPermaLink="false">https://jobs.example/?p={i}</guid>'
        f"<description><![CDATA[<p>Role {i}: build reliable systems with Python, queues and MongoDB. "
        f"We value calm on-call rotations and good documentation.</p>]]></description>"
        f"<job_listing:location><![CDATA[{LOCATIONS[i % len(LOCATIONS)]}]]></job_listing:location>"
        f"<job_listing:job_type><![CDATA[{TYPES[i % len(TYPES)]}]]></job_listing:job_type>"
        f"<job_listing:company><![CDATA[{COMPANIES[i % len(COMPANIES)]}]]></job_listing:company>"
        f"<job_listing:job_category><![CDATA[Engineering]]></job_listing:job_category>"
        "</item>\n"
    ).encode()


def chunks(count: int, *, edited: frozenset[int] = frozenset()) -> Iterator[bytes]:
    yield HEAD
    for i in range(count):
        yield item(i, revision=1 if i in edited else 0)
    yield TAIL


def write_feed(out: IO[bytes], count: int, *, edited: frozenset[int] = frozenset()) -> int:
    size = 0
    for chunk in chunks(count, edited=edited):
        out.write(chunk)
        size += len(chunk)
    return size


def feed_bytes(count: int, *, edited: frozenset[int] = frozenset()) -> bytes:
    return b"".join(chunks(count, edited=edited))
