"""Every service's interactive docs render with no request leaving the service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import Browsing
from tests.conftest import Isolation
from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="module")
def docs_stack(mongodb_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    iso = Isolation(mongodb_url, redis_url, "docs_browser", "docs:browser:")
    with running_stack(iso.env(), tmp_path_factory.mktemp("docs"), monitor=True, console=True) as stack:
        yield stack


def _bases(stack: Stack) -> list[tuple[str, str]]:
    """(origin, path prefix): each service on its own, and under its ingress prefix."""
    assert stack.monitor is not None and stack.console is not None
    return [
        (stack.api, ""),
        (stack.api, "/api"),
        (stack.auth.url, ""),
        (stack.auth.url, "/auth"),
        (stack.monitor, ""),
        (stack.console, ""),
    ]


@pytest.mark.parametrize("where", range(6))
def test_swagger_ui_lists_the_operations_offline(docs_stack: Stack, browsing: Browsing, where: int) -> None:
    origin, prefix = _bases(docs_stack)[where]
    page = browsing.page
    page.goto(f"{origin}{prefix}/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() >= 2
    assert page.title().endswith("— docs")
    assert browsing.foreign(origin) == []
    assert (
        f"{origin}{prefix}/docs-assets/favicon.svg" in browsing.requests
        or page.locator("link[rel=icon]").count()
    )


@pytest.mark.parametrize("where", range(6))
def test_redoc_renders_the_reference_offline(docs_stack: Stack, browsing: Browsing, where: int) -> None:
    origin, prefix = _bases(docs_stack)[where]
    page = browsing.page
    page.goto(f"{origin}{prefix}/redoc")
    page.wait_for_selector("[data-section-id]", timeout=30_000)
    assert page.locator("[data-section-id]").count() >= 2
    assert browsing.foreign(origin) == []


def test_the_favicon_is_the_projects_own(docs_stack: Stack, browsing: Browsing, tmp_path: Path) -> None:
    page = browsing.page
    page.goto(f"{docs_stack.api}/docs")
    href = page.locator("link[rel=icon]").get_attribute("href")
    assert href == "docs-assets/favicon.svg"
    icon = page.request.get(f"{docs_stack.api}/docs-assets/favicon.svg")
    assert icon.status == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert "fastapi" not in icon.text().lower()
