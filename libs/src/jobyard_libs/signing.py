"""HMAC-SHA256 signatures for callbacks and webhooks, with a replay window.

A signed request carries ``X-Jobyard-Timestamp`` (Unix seconds) and
``X-Jobyard-Signature: sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>.<body>"`` with
a secret. A receiver refuses a signature that does not match, or a timestamp more than
the window (5 minutes) away from its clock.

Every outbound webhook and notify call also carries the Standard Webhooks headers
(https://www.standardwebhooks.com: ``webhook-id``, ``webhook-timestamp``,
``webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``), so a receiver
can verify with a stock library (``Webhook(standard_secret(secret)).verify(body, headers)``)
and drop a delivery it has seen by its ``webhook-id``, which stays the same across retries.

No tenant ever holds the server's master secret (``JOBYARD_WEBHOOK_SECRET``): each task
and each execution gets its own secret derived from it (:func:`derived_secret`), shown
only to the task's owner. One tenant's secret signs nothing of another's.

Examples
--------
>>> headers = sign_headers(b'{"status":"completed"}', secret="s3cret", now=1_800_000_000)
>>> verify(b'{"status":"completed"}', headers, secret="s3cret", now=1_800_000_010)
"""

from __future__ import annotations

import base64
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


def standard_secret(secret: str) -> str:
    """``secret`` as Standard Webhooks libraries take it: ``whsec_`` and its bytes in base64."""
    return "whsec_" + base64.b64encode(secret.encode()).decode()


def sign_headers(
    body: bytes, *, secret: str, now: float | None = None, message_id: str | None = None
) -> dict[str, str]:
    """Our headers; with ``message_id`` (one per message, the same on every retry of it) the
    Standard Webhooks ones too."""
    timestamp = int(now if now is not None else time.time())
    headers = {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(body, secret=secret, timestamp=timestamp),
    }
    if message_id is not None:
        signed = f"{message_id}.{timestamp}.".encode() + body
        mac = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()
        headers |= {
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": f"v1,{mac}",
        }
    return headers


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
