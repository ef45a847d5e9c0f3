from __future__ import annotations

from collections.abc import Iterator

import pytest
from jobyard_libs.egress import EgressGuard, EgressPolicy
from jobyard_libs.feeds.errors import FeedFetchError, FeedTooLarge
from jobyard_libs.feeds.fetcher import FetchOptions, fetch_feed

from tests.support.feed_server import PUBLIC_STAND_IN, FeedServer

FAST = FetchOptions(attempts=3, backoff_seconds=0.01)


def guard(**limits: float) -> EgressGuard:
    return EgressGuard(
        EgressPolicy.parse(PUBLIC_STAND_IN, connect_timeout_seconds=2, read_timeout_seconds=0.5, **limits)
    )


@pytest.fixture
def server() -> Iterator[FeedServer]:
    s = FeedServer()
    yield s
    s.stop()


async def test_conditional_get(server: FeedServer) -> None:
    url = server.serve(
        "/feed", fixture="jobicy.xml", etag='"v1"', last_modified="Mon, 23 Nov 2026 09:00:00 GMT"
    )
    first = await fetch_feed(url, FAST, guard())
    assert not first.not_modified
    assert first.etag == '"v1"'
    assert first.body is not None
    assert first.body.read().startswith(b"<?xml")
    first.close()
    again = await fetch_feed(url, FAST, guard(), etag='"v1"', last_modified=first.last_modified)
    assert again.not_modified
    assert again.body is None
    assert server.conditional_hits["/feed"] == 1


async def test_5xx_is_retried(server: FeedServer) -> None:
    url = server.serve("/flaky", fixture="atom.xml", fail_first=2)
    result = await fetch_feed(url, FAST, guard())
    assert result.status_code == 200
    assert server.hits["/flaky"] == 3
    result.close()


async def test_5xx_gives_up_after_the_attempts(server: FeedServer) -> None:
    url = server.serve("/down", fixture="atom.xml", fail_first=10)
    with pytest.raises(FeedFetchError, match=r"HTTP 503 .* \(after 3 attempts\)"):
        await fetch_feed(url, FAST, guard())
    assert server.hits["/down"] == 3


async def test_4xx_is_not_retried(server: FeedServer) -> None:
    with pytest.raises(FeedFetchError, match="HTTP 404"):
        await fetch_feed(server.base_url + "/missing", FAST, guard())
    assert server.hits["/missing"] == 1


async def test_timeouts_are_retried_then_fail(server: FeedServer) -> None:
    url = server.serve("/slow", fixture="atom.xml", delay_seconds=1.5)
    with pytest.raises(FeedFetchError, match="ReadTimeout"):
        await fetch_feed(url, FAST, guard())
    assert server.hits["/slow"] == 3


async def test_size_cap(server: FeedServer) -> None:
    url = server.serve("/big", b"<rss>" + b" " * 5000 + b"</rss>")
    with pytest.raises(FeedTooLarge, match="4096-byte limit"):
        await fetch_feed(url, FAST, guard(max_bytes=4096))


async def test_redirect_limit(server: FeedServer) -> None:
    server.serve("/a", b"", redirect_to="/b")
    server.serve("/b", b"", redirect_to="/a")
    with pytest.raises(FeedFetchError, match="more than 2 redirects"):
        await fetch_feed(server.base_url + "/a", FAST, guard(max_redirects=2))
