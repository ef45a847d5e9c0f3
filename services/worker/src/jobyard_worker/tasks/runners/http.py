"""http: one call through the egress guard; no redirects; only an excerpt of the answer is
read (of a JSON answer, up to ``JSON_MAX_BYTES``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from jobyard_libs.tasks.kinds.http import EXCERPT_BYTES, JSON_MAX_BYTES, NAME, Payload

if TYPE_CHECKING:
    from jobyard_worker.tasks.runners import KindContext

__all__ = ["NAME", "HttpCallFailed", "run"]


class HttpCallFailed(Exception):
    pass


async def run(context: KindContext, payload: Payload) -> dict[str, Any]:
    url = str(payload.url)
    body = payload.body.encode() if payload.body is not None else None
    context.log.info("calling", method=payload.method, url=url, body_bytes=len(body or b""))
    async with context.guard.stream(payload.method, url, headers=payload.headers, content=body) as response:
        is_json = response.headers.get("content-type", "").split(";")[0].strip().endswith("json")
        wanted = JSON_MAX_BYTES if is_json and 200 <= response.status_code < 300 else EXCERPT_BYTES
        limit = min(wanted, context.settings.egress_max_response_bytes)
        data, more = await context.guard.read(response, limit=limit)  # the rest is never read
    context.log.info("answered", status=response.status_code, bytes_read=len(data), more=more)
    excerpt = data[:EXCERPT_BYTES].decode("utf-8", "replace")
    if not 200 <= response.status_code < 300:
        raise HttpCallFailed(f"HTTP {response.status_code} from {url}: {excerpt[:200]}")
    truncated = more or len(data) > EXCERPT_BYTES
    result: dict[str, Any] = {"status": response.status_code, "body": excerpt, "truncated": truncated}
    if is_json and not more:
        try:
            result["json"] = json.loads(data)  # whole and JSON: what a workflow's next step reads
        except (ValueError, RecursionError):
            context.log.info("answer_not_json")
    return result
