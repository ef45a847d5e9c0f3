"""A posting's description as feeds send it (HTML from strangers), made safe once, at import.

``sanitize`` keeps basic formatting (paragraphs, lists, emphasis, headings, links to http,
https and mailto) and drops everything else: scripts, event handlers, styles, iframes,
forms, ``javascript:`` links. It is nh3 (the Rust ammonia sanitiser), not our own code: HTML
parsing is where hand-written filters fail. ``text_of`` is the same description as plain
text, for clients that show no HTML and for search.

Usage
-----

::

    sanitize('<p onclick="steal()">Hi <script>x</script><a href="javascript:x">there</a></p>')
    # → '<p>Hi <a rel="noopener noreferrer nofollow">there</a></p>'
    text_of("<p>Senior &amp; <b>remote</b></p><ul><li>Python</li></ul>")
    # → 'Senior & remote Python'
"""

from __future__ import annotations

import html
import re

import nh3

TAGS = set(
    [
        "p",
        "br",
        "hr",
        "div",
        "span",
        "ul",
        "ol",
        "li",
        "strong",
        "b",
        "em",
        "i",
        "u",
        "a",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "code",
        "pre",
        "dl",
        "dt",
        "dd",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    ]
)
ATTRIBUTES = {"a": {"href", "title"}, "th": {"colspan", "rowspan"}, "td": {"colspan", "rowspan"}}
SCHEMES = {"http", "https", "mailto"}
BLOCKS = re.compile(r"<\s*(br|/p|/div|/li|/h[1-6]|/tr|/dd|/dt|/blockquote|/pre)\b[^>]*>", re.IGNORECASE)


def sanitize(value: str | None) -> str | None:
    if value is None:
        return None
    return nh3.clean(
        value, tags=TAGS, attributes=ATTRIBUTES, url_schemes=SCHEMES, link_rel="noopener noreferrer nofollow"
    )


def text_of(value: str | None) -> str | None:
    """The description's words, blocks separated by a space, entities decoded."""
    if value is None:
        return None
    spaced = BLOCKS.sub(" ", value)
    return " ".join(html.unescape(nh3.clean(spaced, tags=set())).split())
