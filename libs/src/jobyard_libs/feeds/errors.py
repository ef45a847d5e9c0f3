"""Why a whole feed could not be imported. Each message is what the import log's
``error`` shows, so it names the cause in words an operator can act on."""

from __future__ import annotations


class FeedError(Exception):
    """The feed as a whole failed; its import log becomes ``failed`` with this message."""


class FeedFetchError(FeedError):
    pass


class FeedRefused(FeedFetchError):
    """The egress guard refused the feed's address (or a redirect's): audited."""


class FeedTooLarge(FeedError):
    pass


class FeedFormatError(FeedError):
    pass


class HostileFeed(FeedFormatError):
    pass
