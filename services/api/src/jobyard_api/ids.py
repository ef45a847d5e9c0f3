from __future__ import annotations

from bson import ObjectId
from bson.errors import InvalidId


def object_id(value: str) -> ObjectId | None:
    """A path id; ``None`` (→ 404) when it is not an ObjectId."""
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None
