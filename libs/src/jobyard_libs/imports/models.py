"""What an import is made of: statuses, triggers, and the job document's derived fields."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from enum import StrEnum
from typing import Any


class ImportStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    NOT_MODIFIED = "not_modified"


class ImportTrigger(StrEnum):
    SCHEDULE = "schedule"
    API = "api"
    TASK = "task"


FINISHED = {ImportStatus.COMPLETED, ImportStatus.FAILED, ImportStatus.NOT_MODIFIED}
CONTENT_FIELDS = (
    "title",
    "description",
    "company",
    "location",
    "category",
    "jobType",
    "region",
    "salary",
    "url",
    "publishedAt",
    "rawData",
)
_WORD = re.compile(r"[^\W_]{2,}", re.UNICODE)


def title_words(text: str) -> list[str]:
    """Lower-cased words of a title: the multikey index behind the jobs title search."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        seen.setdefault(word, None)
    return list(seen)[:32]


def content_hash(fields: dict[str, Any]) -> str:
    """Changes exactly when a posting's content does (not its feed or bookkeeping)."""
    content = {k: fields.get(k) for k in CONTENT_FIELDS}
    if isinstance(content["publishedAt"], datetime):
        content["publishedAt"] = content["publishedAt"].isoformat()
    encoded = json.dumps(content, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()
