"""Job feeds (RSS 2.0 with or without WP Job Manager fields, RSS 1.0, Atom 1.0) as a stream.

:func:`iter_feed` yields one :class:`ParsedJob` or :class:`ItemFailure` per item, reading
the document incrementally: each item is dropped from the tree once mapped, and so is
every element outside an item once read (a feed padded with millions of other elements
costs no more memory than one without), so memory stays flat however long the feed is.
Nesting deeper than ``MAX_DEPTH`` is refused. Elements are matched on their local name, because
WP Job Manager's namespace URI is each site's own (``job_listing:company`` is
``{https://jobicy.com}company`` on Jobicy).

Hostile XML is refused before any item is read: :func:`refuse_declarations` parses the
prolog alone and refuses any entity declaration (billion laughs, XXE) with
:class:`HostileFeed`; only then does the C ``iterparse`` read the document. Nothing is
ever fetched from disk or network: external DTDs are not loaded and undeclared entities
are errors.

Usage
-----

::

    with open("feed.xml", "rb") as f:
        for entry in iter_feed(f, "https://jobicy.com/?feed=job_feed"):
            print(entry)
    # → ParsedJob(external_id='https://jobicy.com/?p=1', fields={'title': 'Backend engineer', ...})
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any
from xml.parsers import expat

from jobyard_libs.feeds.dates import parse_feed_date
from jobyard_libs.feeds.errors import FeedFormatError, HostileFeed
from jobyard_libs.feeds.html import sanitize, text_of

MAX_TITLE = 500
MAX_DEPTH = 64
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


_LOCAL_NAMES: dict[str, str] = {}


def local_name(tag: str) -> str:
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = tag.rsplit("}", 1)[-1] if "}" in tag else tag.rsplit(":", 1)[-1]
        if len(_LOCAL_NAMES) < 10_000:
            _LOCAL_NAMES[tag] = name
    return name


Children = dict[str, list[tuple[str, dict[str, str]]]]


def _collect(item: ET.Element) -> Children:
    """Each child's text (read once) and attributes, by local name."""
    children: Children = {}
    for child in item:
        text = (child.text or "") if len(child) == 0 else "".join(child.itertext())
        children.setdefault(local_name(child.tag), []).append((text.strip(), child.attrib))
    return children


def _first_text(children: Children, names: tuple[str, ...]) -> str | None:
    for name in names:
        for text, attrib in children.get(name, ()):
            value = text or attrib.get("term", "").strip()
            if value:
                return value
    return None


def _link(children: Children) -> str | None:
    for text, attrib in children.get("link", ()):
        href = attrib.get("href")
        if href is not None:  # Atom: <link rel="alternate" href=...>
            if attrib.get("rel", "alternate") == "alternate":
                return href.strip() or None
            continue
        if text:
            return text
    return None


def _raw(children: Children) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for name, values in children.items():
        if name in SKIP_IN_RAW:
            continue
        kept: list[Any] = [
            text[:MAX_FIELD] if text or not attrib else dict(attrib) for text, attrib in values
        ]
        raw[name] = kept[0] if len(kept) == 1 else kept
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
    categories = [
        text or attrib.get("term", "").strip() for name in CATEGORY for text, attrib in children.get(name, ())
    ]
    fields: dict[str, Any] = {
        "title": title,
        "description": sanitize(description := _first_text(children, DESCRIPTION)),
        "descriptionText": text_of(description),
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


class _RootReached(Exception):
    pass


def refuse_declarations(source: IO[bytes], chunk: int = 64 * 1024) -> None:
    """Parse only the prolog (up to the root element) and refuse any entity declaration.

    Entities can only be declared in the DTD, which precedes the root element; with none
    declared, nothing in the document can expand (billion laughs) or point outside it
    (XXE), and the fast C parser can read the rest. Leaves ``source`` at its start.
    """
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def declared(name: str, *_: object) -> None:
        raise HostileFeed(f"refused hostile XML: the document declares the entity {name!r}")

    def root(*_: object) -> None:
        raise _RootReached

    parser.EntityDeclHandler = declared
    parser.UnparsedEntityDeclHandler = declared
    parser.StartElementHandler = root
    try:
        while True:
            data = source.read(chunk)
            parser.Parse(data, not data)
            if not data:
                break
    except _RootReached:
        pass
    except expat.ExpatError as exc:
        raise FeedFormatError(f"malformed XML: {exc}") from exc
    finally:
        source.seek(0)


def iter_feed(source: IO[bytes], feed_url: str) -> Iterator[ParsedJob | ItemFailure]:
    """Yield each item of an RSS or Atom document, in order; see the module docstring.

    ``source`` must be seekable: its prolog is checked before it is parsed.
    """
    refuse_declarations(source)
    events = ET.iterparse(source, events=("start", "end"))  # noqa: S314 - refuse_declarations ran first
    stack: list[ET.Element] = []
    item_tag: str | None = None
    open_items = 0
    position = 0
    try:
        for event, element in events:
            is_item = local_name(element.tag) == item_tag
            if event == "start":
                if not stack:
                    item_tag = _item_tag_for(element)
                elif len(stack) >= MAX_DEPTH:
                    raise FeedFormatError(f"elements nested deeper than {MAX_DEPTH} levels")
                open_items += is_item
                stack.append(element)
                continue
            stack.pop()
            if is_item:
                open_items -= 1
                position += 1
                yield map_item(element, feed_url, position)
            if stack and (is_item or open_items == 0):
                stack[-1].remove(element)  # an item once mapped, anything outside items once read
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
