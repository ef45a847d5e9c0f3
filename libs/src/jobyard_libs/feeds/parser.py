"""Job feeds (RSS 2.0 with or without WP Job Manager fields, RSS 1.0, Atom 1.0) as a stream.

:func:`iter_feed` yields one :class:`ParsedJob` or :class:`ItemFailure` per item, reading
the document incrementally: each item is dropped from the tree once mapped, so memory
stays flat however long the feed is. Elements are matched on their local name, because
WP Job Manager's namespace URI is each site's own (``job_listing:company`` is
``{https://jobicy.com}company`` on Jobicy).

Hostile XML is refused before any item is read: entity declarations (billion laughs)
and external entities or DTDs (XXE) raise :class:`HostileFeed`; expat never fetches
anything from disk or network.

Examples
--------
>>> with open("feed.xml", "rb") as f:
...     for entry in iter_feed(f, "https://jobicy.com/?feed=job_feed"):
...         print(entry)
ParsedJob(external_id='https://jobicy.com/?p=1', fields={'title': 'Backend engineer', ...})
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET  # only types and ParseError: parsing goes through defusedxml
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import defusedxml
import defusedxml.ElementTree as SafeET

from jobyard_libs.feeds.dates import parse_feed_date
from jobyard_libs.feeds.errors import FeedFormatError, HostileFeed

MAX_TITLE = 500
MAX_FIELD = 1000
RSS_ROOTS = {"rss", "RDF"}
ATOM_ROOT = "feed"

# local names → job field, first match wins
COMPANY = ("company", "company_name", "hiringOrganization")
LOCATION = ("location", "job_location")
JOB_TYPE = ("job_type", "jobtype", "type", "employment_type")
CATEGORY = ("job_category", "category")
REGION = ("region", "job_region")
SALARY = ("salary", "job_salary")
DESCRIPTION = ("description", "encoded", "summary", "content")
DATES = ("pubDate", "published", "date", "updated")
SKIP_IN_RAW = {"description", "encoded", "content", "summary"}


@dataclass(frozen=True)
class ParsedJob:
    external_id: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class ItemFailure:
    id: str
    reason: str


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if "}" in tag else tag.rsplit(":", 1)[-1]


def _text(element: ET.Element) -> str:
    return "".join(element.itertext()).strip()


def _collect(item: ET.Element) -> dict[str, list[ET.Element]]:
    children: dict[str, list[ET.Element]] = {}
    for child in item:
        children.setdefault(local_name(child.tag), []).append(child)
    return children


def _first_text(children: dict[str, list[ET.Element]], names: tuple[str, ...]) -> str | None:
    for name in names:
        for element in children.get(name, []):
            value = _text(element) or element.get("term", "").strip()
            if value:
                return value
    return None


def _link(children: dict[str, list[ET.Element]]) -> str | None:
    for element in children.get("link", []):
        href = element.get("href")
        if href is not None:  # Atom: <link rel="alternate" href=...>
            if element.get("rel", "alternate") == "alternate":
                return href.strip() or None
            continue
        text = _text(element)
        if text:
            return text
    return None


def _raw(children: dict[str, list[ET.Element]]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for name, elements in children.items():
        if name in SKIP_IN_RAW:
            continue
        values: list[Any] = [
            _text(e)[:MAX_FIELD] if _text(e) or not e.attrib else dict(e.attrib) for e in elements
        ]
        raw[name] = values[0] if len(values) == 1 else values
    return raw


def map_item(item: ET.Element, feed_url: str, position: int) -> ParsedJob | ItemFailure:
    children = _collect(item)
    guid = _first_text(children, ("guid", "id"))
    link = _link(children)
    title = _first_text(children, ("title",))
    ident = guid or link or f"item #{position}"
    if not title:
        return ItemFailure(ident, "missing title")
    if len(title) > MAX_TITLE:
        return ItemFailure(ident, f"title longer than {MAX_TITLE} characters")
    external_id = guid or link or hashlib.sha256(f"{title}\n{link or ''}".encode()).hexdigest()[:32]
    categories = [_text(e) or e.get("term", "").strip() for name in CATEGORY for e in children.get(name, [])]
    fields: dict[str, Any] = {
        "title": title,
        "description": _first_text(children, DESCRIPTION),
        "company": _clip(_first_text(children, COMPANY)),
        "location": _clip(_first_text(children, LOCATION)),
        "category": _clip(next((c for c in categories if c), None)),
        "jobType": _clip(_first_text(children, JOB_TYPE)),
        "region": _clip(_first_text(children, REGION)),
        "salary": _clip(_first_text(children, SALARY)),
        "url": link,
        "publishedAt": parse_feed_date(_first_text(children, DATES)),
        "feedUrl": feed_url,
        "rawData": _raw(children),
    }
    return ParsedJob(external_id, fields)


def _clip(value: str | None) -> str | None:
    return value[:MAX_FIELD] if value else value


def iter_feed(source: IO[bytes], feed_url: str) -> Iterator[ParsedJob | ItemFailure]:
    """Yield each item of an RSS or Atom document, in order; see the module docstring."""
    events = SafeET.iterparse(
        source, events=("start", "end"), forbid_dtd=False, forbid_entities=True, forbid_external=True
    )
    stack: list[ET.Element] = []
    item_tag: str | None = None
    position = 0
    try:
        for event, element in events:
            if event == "start":
                if not stack:
                    item_tag = _item_tag_for(element)
                stack.append(element)
                continue
            stack.pop()
            if local_name(element.tag) != item_tag:
                continue
            position += 1
            yield map_item(element, feed_url, position)
            if stack:
                stack[-1].remove(element)  # keep memory flat
    except defusedxml.DefusedXmlException as exc:
        raise HostileFeed(f"refused hostile XML: {type(exc).__name__} ({exc})") from exc
    except ET.ParseError as exc:
        raise FeedFormatError(f"malformed XML: {exc}") from exc
    if item_tag is None:
        raise FeedFormatError("empty document: not an RSS or Atom feed")


def _item_tag_for(root: ET.Element) -> str:
    name = local_name(root.tag)
    if name in RSS_ROOTS:
        return "item"
    if name == ATOM_ROOT:
        return "entry"
    raise FeedFormatError(f"not an RSS or Atom feed: the root element is <{name}>")
