"""HMAC-SHA256 signatures for callbacks and webhooks, with a replay window.

A signed request carries ``X-Jobyard-Timestamp`` (Unix seconds) and
``X-Jobyard-Signature: sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>.<body>"`` with
a secret. A receiver refuses a signature that does not match, or a timestamp more than
the window (5 minutes) away from its clock.

No tenant ever holds the server's master secret (``JOBYARD_WEBHOOK_SECRET``): each task
and each execution gets its own secret derived from it (:func:`derived_secret`), shown
only to the task's owner. One tenant's secret signs nothing of another's.

Examples
--------
>>> headers = sign_headers(b'{"status":"completed"}', secret="s3cret", now=1_800_000_000)
>>> verify(b'{"status":"completed"}', headers, secret="s3cret", now=1_800_000_010)
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from jobyard_libs.errors import Unauthorized

TIMESTAMP_HEADER = "X-Jobyard-Timestamp"
SIGNATURE_HEADER = "X-Jobyard-Signature"
WINDOW_SECONDS = 300


class BadSignature(Unauthorized):
    code = "bad_signature"


def derived_secret(master: str, purpose: str, ident: str) -> str:
    """The secret of one task or execution: HMAC of its id under the master secret."""
    return hmac.new(master.encode(), f"jobyard:{purpose}:{ident}".encode(), hashlib.sha256).hexdigest()


def signature(body: bytes, *, secret: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def sign_headers(body: bytes, *, secret: str, now: float | None = None) -> dict[str, str]:
    timestamp = int(now if now is not None else time.time())
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(body, secret=secret, timestamp=timestamp),
    }


def require_fresh(headers: Mapping[str, str], *, now: float | None = None) -> None:
    """Refuse a request that is unsigned or outside the window, before its body is read."""
    verify(None, headers, secret="", now=now)


def verify(body: bytes | None, headers: Mapping[str, str], *, secret: str, now: float | None = None) -> None:
    """``body=None`` checks the headers and the window only (:func:`require_fresh`)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_timestamp = lowered.get(TIMESTAMP_HEADER.lower())
    given = lowered.get(SIGNATURE_HEADER.lower())
    if not raw_timestamp or not given:
        raise BadSignature(
            "unsigned: send X-Jobyard-Timestamp and X-Jobyard-Signature", field=SIGNATURE_HEADER
        )
    try:
        timestamp = int(raw_timestamp)
    except ValueError as exc:
        raise BadSignature("X-Jobyard-Timestamp is not Unix seconds", field=TIMESTAMP_HEADER) from exc
    if abs((now if now is not None else time.time()) - timestamp) > WINDOW_SECONDS:
        raise BadSignature(
            "timestamp outside the 5-minute window (replayed or clock skew)", field=TIMESTAMP_HEADER
        )
    if body is not None and not hmac.compare_digest(
        given, signature(body, secret=secret, timestamp=timestamp)
    ):
        raise BadSignature("signature does not match", field=SIGNATURE_HEADER)
