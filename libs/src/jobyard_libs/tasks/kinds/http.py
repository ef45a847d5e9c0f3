"""Calls a URL: 2xx is success; the status and a short excerpt of the answer are the result
(and, when the answer is JSON and whole within ``JSON_MAX_BYTES``, its value as ``json``:
what a workflow's next step reads, a ``forEach`` its list from).

The call goes through the egress guard: only public addresses (unless the operator's
``JOBYARD_EGRESS_ALLOWED_HOSTS`` lists the destination), resolved once and pinned, no
redirects followed, the answer read only up to the excerpt (a JSON answer, up to
``JSON_MAX_BYTES``), within the egress time limit.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from jobyard_libs.auth import Role

NAME = "http"
ROLES = frozenset(Role)
EXCERPT_BYTES = 2048
JSON_MAX_BYTES = 60 * 1024  # with its excerpt, within the 64 KB a workflow passes a result on whole
# Set by the transport from the pinned destination and the body; a user may not forge them.
RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "upgrade", "te"})


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict, max_length=50)
    body: str | None = Field(None, max_length=64 * 1024)

    @field_validator("headers")
    @classmethod
    def _no_reserved_headers(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = sorted(name for name in value if name.lower() in RESERVED_HEADERS)
        if reserved:
            raise ValueError(f"headers may not set {', '.join(reserved)}")
        return value
