"""Fetch a feed over HTTP: timeouts, a size cap, few redirects, retries, conditional GET.

The body streams into a spooled temporary file (memory up to 8 MiB, then disk), so a large
feed never sits in memory whole. Timeouts, connection errors and 5xx are retried with
exponential backoff; 4xx and oversized bodies are not.

Examples
--------
>>> result = await fetch_feed(url, FetchOptions(), etag='"abc"')
>>> result.not_modified, result.etag
(False, '"def"')
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from typing import IO

import httpx
import structlog

from jobyard_libs.feeds.errors import FeedFetchError, FeedTooLarge

log = structlog.get_logger(__name__)
SPOOL_BYTES = 8 * 1024 * 1024
USER_AGENT = "Jobyard/0.1 (+feed importer)"


@dataclass(frozen=True)
class FetchOptions:
    connect_timeout: float = 10
    read_timeout: float = 30
    max_bytes: int = 256 * 1024 * 1024
    max_redirects: int = 5
    attempts: int = 3
    backoff_seconds: float = 1.0


@dataclass
class FetchResult:
    not_modified: bool
    body: IO[bytes] | None
    size: int
    status_code: int
    etag: str | None
    last_modified: str | None
    content_type: str | None

    def close(self) -> None:
        if self.body is not None:
            self.body.close()


class _Retryable(Exception):
    pass


async def fetch_feed(
    url: str,
    options: FetchOptions,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FetchResult:
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "application/rss+xml, application/atom+xml, application/xml, text/xml;q=0.9, */*;q=0.1",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    timeout = httpx.Timeout(options.read_timeout, connect=options.connect_timeout)
    async with httpx.AsyncClient(
        timeout=timeout,
        follow_redirects=True,
        max_redirects=options.max_redirects,
        headers=headers,
        transport=transport,
    ) as client:
        for attempt in range(1, options.attempts + 1):
            try:
                return await _fetch_once(client, url, options)
            except _Retryable as exc:
                if attempt == options.attempts:
                    raise FeedFetchError(f"{exc} (after {attempt} attempts)") from exc
                delay = options.backoff_seconds * 2 ** (attempt - 1)
                log.info("feed_fetch_retry", url=url, attempt=attempt, error=str(exc), delay_s=delay)
                await asyncio.sleep(delay)
    raise FeedFetchError("no attempt made")  # attempts < 1


async def _fetch_once(client: httpx.AsyncClient, url: str, options: FetchOptions) -> FetchResult:
    try:
        async with client.stream("GET", url) as response:
            if response.status_code == 304:
                return FetchResult(True, None, 0, 304, _etag(response), _last_modified(response), None)
            if response.status_code >= 500:
                raise _Retryable(f"HTTP {response.status_code} from {url}")
            if response.status_code >= 400:
                raise FeedFetchError(f"HTTP {response.status_code} from {url}")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > options.max_bytes:
                raise FeedTooLarge(f"feed is {int(declared)} bytes, over the {options.max_bytes}-byte limit")
            body: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - handed to the caller
            size = 0
            try:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > options.max_bytes:
                        raise FeedTooLarge(f"feed exceeds the {options.max_bytes}-byte limit")
                    body.write(chunk)
            except BaseException:
                body.close()
                raise
            body.seek(0)
            return FetchResult(
                False,
                body,
                size,
                response.status_code,
                _etag(response),
                _last_modified(response),
                response.headers.get("content-type"),
            )
    except httpx.TooManyRedirects as exc:
        raise FeedFetchError(f"more than {options.max_redirects} redirects from {url}") from exc
    except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        raise _Retryable(f"{type(exc).__name__} fetching {url}") from exc
    except httpx.InvalidURL as exc:
        raise FeedFetchError(f"invalid feed URL {url!r}: {exc}") from exc


def _etag(response: httpx.Response) -> str | None:
    value: str | None = response.headers.get("etag")
    return value


def _last_modified(response: httpx.Response) -> str | None:
    value: str | None = response.headers.get("last-modified")
    return value
