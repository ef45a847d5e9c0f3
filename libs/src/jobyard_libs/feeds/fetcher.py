"""Fetch a feed over HTTP through the egress guard: timeouts, a size cap, checked redirects,
retries, conditional GET.

Every hop (the feed's URL and each redirect) is resolved once and must be a public address
unless the operator allows it (:mod:`jobyard_libs.egress`). The body streams into a spooled
temporary file (memory up to 8 MiB, then disk), so a large feed never sits in memory
whole. Timeouts, connection errors and 5xx are retried with exponential backoff; 4xx,
refused destinations and oversized bodies are not.

Usage
-----

::

    result = await fetch_feed(url, FetchOptions(), guard, etag='"abc"')
    result.not_modified, result.etag
    # → (False, '"def"')
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from typing import IO

import httpx
import structlog

from jobyard_libs.backoff import backoff
from jobyard_libs.egress import EgressFailed, EgressGuard, EgressRefused, EgressTooLarge, capped
from jobyard_libs.feeds.errors import FeedFetchError, FeedRefused, FeedTooLarge

log = structlog.get_logger(__name__)
SPOOL_BYTES = 8 * 1024 * 1024
USER_AGENT = "Jobyard/0.1 (+feed importer)"


@dataclass(frozen=True)
class FetchOptions:
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
    guard: EgressGuard,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FetchResult:
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "application/rss+xml, application/atom+xml, application/xml, text/xml;q=0.9, */*;q=0.1",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    for attempt in range(1, options.attempts + 1):
        try:
            return await _fetch_once(guard, url, headers)
        except _Retryable as exc:
            if attempt == options.attempts:
                raise FeedFetchError(f"{exc} (after {attempt} attempts)") from exc
            delay = backoff(
                attempt, base=options.backoff_seconds, cap=options.backoff_seconds * 2**options.attempts
            )
            log.info("feed_fetch_retry", url=url, attempt=attempt, error=str(exc), delay_s=delay)
            await asyncio.sleep(delay)
    raise FeedFetchError("no attempt made")  # attempts < 1


async def _fetch_once(guard: EgressGuard, url: str, headers: dict[str, str]) -> FetchResult:
    try:
        async with guard.stream("GET", url, headers=headers, follow_redirects=True) as response:
            if response.status_code == 304:
                return FetchResult(True, None, 0, 304, _etag(response), _last_modified(response), None)
            if response.status_code >= 500:
                raise _Retryable(f"HTTP {response.status_code} from {url}")
            if response.status_code >= 400:
                raise FeedFetchError(f"HTTP {response.status_code} from {url}")
            if response.status_code >= 300:
                raise FeedFetchError(f"HTTP {response.status_code} from {url}")
            body: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - handed to the caller
            size = 0
            try:
                async for chunk in capped(response, guard.policy.max_bytes):
                    size += len(chunk)
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
    except EgressTooLarge as exc:
        raise FeedTooLarge(f"feed {exc.args[0].removeprefix('the answer ')}") from exc
    except EgressRefused as exc:
        raise FeedRefused(f"refused: {exc}") from exc
    except EgressFailed as exc:
        if not exc.retryable:
            raise FeedFetchError(str(exc)) from exc
        raise _Retryable(str(exc)) from exc


def _etag(response: httpx.Response) -> str | None:
    value: str | None = response.headers.get("etag")
    return value


def _last_modified(response: httpx.Response) -> str | None:
    value: str | None = response.headers.get("last-modified")
    return value
