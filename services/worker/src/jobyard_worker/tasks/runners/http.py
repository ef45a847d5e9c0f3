"""http: one call through the egress guard; no redirects; only an excerpt of the answer is read."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from jobyard_libs.tasks.kinds.http import EXCERPT_BYTES, NAME, Payload

if TYPE_CHECKING:
    from jobyard_worker.tasks.runners import KindContext

__all__ = ["NAME", "HttpCallFailed", "run"]


class HttpCallFailed(Exception):
    pass


async def run(context: KindContext, payload: Payload) -> dict[str, Any]:
    url = str(payload.url)
    body = payload.body.encode() if payload.body is not None else None
    limit = min(EXCERPT_BYTES, context.settings.egress_max_response_bytes)
    context.log.info("calling", method=payload.method, url=url, body_bytes=len(body or b""))
    async with context.guard.stream(payload.method, url, headers=payload.headers, content=body) as response:
        data, more = await context.guard.read(response, limit=limit)  # the rest is never read
    context.log.info("answered", status=response.status_code, bytes_read=len(data), more=more)
    excerpt = data.decode("utf-8", "replace")
    if not 200 <= response.status_code < 300:
        raise HttpCallFailed(f"HTTP {response.status_code} from {url}: {excerpt[:200]}")
    result: dict[str, Any] = {"status": response.status_code, "body": excerpt, "truncated": more}
    if not more and response.headers.get("content-type", "").split(";")[0].strip().endswith("json"):
        try:
            result["json"] = json.loads(excerpt)  # whole and JSON: what a workflow's next step reads
        except (ValueError, RecursionError):
            context.log.info("answer_not_json")
    return result
