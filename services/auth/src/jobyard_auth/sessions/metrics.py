"""Sign-in metrics: logins by method and result, token pairs issued by grant."""

from __future__ import annotations

from prometheus_client import Counter

LOGINS = Counter(
    "jobyard_auth_logins_total",
    "Sign-in attempts, by method (password, google) and result (succeeded, or the error's code).",
    ["method", "result"],
)
TOKENS_ISSUED = Counter(
    "jobyard_auth_tokens_issued_total",
    "Access + refresh token pairs issued, by grant (password, google, refresh).",
    ["grant"],
)
REFRESH_REUSE = Counter(
    "jobyard_auth_refresh_reuse_total", "Rotated refresh tokens presented again (their family is revoked)."
)
