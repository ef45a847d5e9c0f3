"""Document ids on the wire are ObjectId hex strings; a malformed one finds nothing."""

from __future__ import annotations

from bson import ObjectId
from bson.errors import InvalidId


def parse_object_id(value: str) -> ObjectId | None:
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None
