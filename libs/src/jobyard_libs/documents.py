"""Stored documents as typed models: what repositories take and return.

A :class:`StoredDocument` is one MongoDB document: snake_case attributes in Python,
camelCase fields in MongoDB (``owner_id`` ↔ ``ownerId``), ``_id`` as ``id``, an
``ObjectId`` where MongoDB has one. :meth:`StoredDocument.to_mongo` gives what to store,
:meth:`StoredDocument.from_mongo` reads one back; fields a newer writer added and an
older reader does not know are ignored, so a rolling update never breaks a read.

API schemas are built from these models with ``model_validate`` (their attribute names
match); an id becomes a string on the way out (:data:`IdStr`).

Examples
--------
>>> class Widget(StoredDocument):
...     owner_id: str
>>> Widget(owner_id="u1").to_mongo()
{'_id': ObjectId('...'), 'ownerId': 'u1'}
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any, Self

from bson import ObjectId
from bson.errors import InvalidId
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel


def new_id() -> ObjectId:
    """A new document id, chosen before the document is stored (so it can be named first)."""
    return ObjectId()


def derived_id(base: ObjectId, moment: datetime) -> ObjectId:
    """The id of what ``base`` does at ``moment`` (a recurring workflow's run): the same in
    every process that derives it, so ``_id``'s uniqueness keeps one, on every server;
    time-ordered like any ObjectId.

    >>> from datetime import UTC
    >>> at = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    >>> derived_id(ObjectId("6760a1b2c3d4e5f6a7b8c9d0"), at) == derived_id(ObjectId("6760a1b2c3d4e5f6a7b8c9d0"), at)
    True
    >>> derived_id(ObjectId("6760a1b2c3d4e5f6a7b8c9d0"), at).generation_time == at
    True
    """
    milliseconds = int(moment.timestamp() * 1000)
    digest = hashlib.sha256(base.binary + milliseconds.to_bytes(8, "big")).digest()
    return ObjectId(int(moment.timestamp()).to_bytes(4, "big") + digest[:8])


def parse_id(value: str) -> ObjectId | None:
    """An id from outside (a path, a message); ``None`` when it is not one."""
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None


def as_id(value: Any) -> ObjectId:
    """An id we wrote ourselves (a message's, a stored reference); ``ValueError`` if it is not one."""
    if isinstance(value, ObjectId):
        return value
    try:
        return ObjectId(str(value))
    except (InvalidId, TypeError) as exc:
        raise ValueError(f"not an ObjectId: {value!r}") from exc


# An ObjectId in Python and in MongoDB; a 24-hex string in JSON.
Oid = Annotated[
    ObjectId,
    BeforeValidator(as_id),
    PlainSerializer(lambda v: str(v), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": "^[0-9a-f]{24}$"}),
]
# An id on the way out of the API: whatever it was stored as, a string.
IdStr = Annotated[str, BeforeValidator(lambda v: str(v))]


class StoredDocument(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        arbitrary_types_allowed=True,
        validate_assignment=False,
    )

    id: Oid = Field(default_factory=ObjectId, alias="_id")

    def to_mongo(self) -> dict[str, Any]:
        """The document to store: MongoDB's field names, BSON types."""
        return self.model_dump(by_alias=True)

    @classmethod
    def from_mongo(cls, raw: dict[str, Any] | None) -> Self | None:
        return None if raw is None else cls.model_validate(raw)

    @classmethod
    def many(cls, raws: list[dict[str, Any]]) -> list[Self]:
        return [cls.model_validate(raw) for raw in raws]


class Changes(BaseModel):
    """A typed change of a stored document: the fields given are written (``None`` too, when
    given), the others left alone. Each document that changes has its own (``TaskChanges``...),
    so a misspelt or mistyped field is mypy's error, or at the latest pydantic's.

    >>> class WidgetChanges(Changes):
    ...     owner_id: str | None = None
    ...     colour: str | None = None
    >>> WidgetChanges(colour=None).to_set()
    {'colour': None}
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", arbitrary_types_allowed=True
    )

    def to_set(self) -> dict[str, Any]:
        """The ``$set`` of these changes, in stored names."""
        return self.model_dump(by_alias=True, exclude_unset=True)
