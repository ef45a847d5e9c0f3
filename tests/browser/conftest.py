"""Headless Chromium (Debian's, no browser download) driven by Playwright, for pages people see.

Every page a test opens records each request the browser makes; ``Browsing.foreign``
lists those that left the page's own origin (there must be none: the docs and the
console work with no internet).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


# Module scope, not session: while Playwright's sync API is open, its event loop counts as
# running in this thread, and every asyncio test that came after on this xdist worker would
# fail to start its own. pytest tears a module's fixtures down before another module's test.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    assert Path(CHROMIUM).exists(), (
        "Debian's chromium is missing (.ci/run installs it: apt-get install chromium)"
    )
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
    yield launched
    launched.close()


@dataclass
class Browsing:
    page: Page
    requests: list[str] = field(default_factory=list)

    def foreign(self, origin: str) -> list[str]:
        """Requests that went anywhere but ``origin`` (data: and blob: URLs stay in the page)."""
        own = urlsplit(origin)
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme not in ("data", "blob")
            and (urlsplit(url).scheme, urlsplit(url).netloc) != (own.scheme, own.netloc)
        ]


@pytest.fixture
def browsing(browser: Browser) -> Iterator[Browsing]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    seen = Browsing(page)
    page.on("request", lambda request: seen.requests.append(request.url))
    yield seen
    context.close()
