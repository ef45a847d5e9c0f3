"""The ``users`` collection. Only this module touches it."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from jobyard_libs.mongo import Database, Document, IndexSpec, update_by_id, utcnow
from pymongo.errors import DuplicateKeyError

COLLECTION = "users"
INDEXES = [
    IndexSpec(COLLECTION, [("email", 1)], unique=True),
    IndexSpec(
        COLLECTION,
        [("googleSub", 1)],
        unique=True,
        partial_filter={"googleSub": {"$type": "string"}},
    ),
    IndexSpec(COLLECTION, [("createdAt", -1), ("_id", -1)]),
    IndexSpec(COLLECTION, [("role", 1), ("active", 1)]),
]


class EmailTaken(Exception):
    pass


class UserRepository:
    def __init__(self, db: Database) -> None:
        self.collection = db[COLLECTION]

    async def insert(
        self,
        *,
        email: str,
        name: str,
        password_hash: str | None,
        role: str,
        google_sub: str | None = None,
        email_verified: bool = False,
    ) -> Document:
        now = utcnow()
        doc: Document = {
            "email": email,
            "name": name,
            "passwordHash": password_hash,
            "role": role,
            "active": True,
            "emailVerified": email_verified,
            "createdAt": now,
            "updatedAt": now,
        }
        if google_sub:
            doc["googleSub"] = google_sub
        try:
            result = await self.collection.insert_one(doc)
        except DuplicateKeyError as exc:
            raise EmailTaken(email) from exc
        doc["_id"] = result.inserted_id
        return doc

    async def by_id(self, user_id: ObjectId) -> Document | None:
        return await self.collection.find_one({"_id": user_id})

    async def by_email(self, email: str) -> Document | None:
        return await self.collection.find_one({"email": email})

    async def by_google_sub(self, sub: str) -> Document | None:
        return await self.collection.find_one({"googleSub": sub})

    async def page(self, skip: int, limit: int) -> tuple[list[Document], int]:
        cursor = self.collection.find({}).sort([("createdAt", -1), ("_id", -1)])
        items = await cursor.skip(skip).limit(limit).to_list()
        return items, await self.collection.count_documents({})

    async def update(self, user_id: ObjectId, fields: dict[str, Any]) -> Document | None:
        return await update_by_id(self.collection, user_id, {"$set": {**fields, "updatedAt": utcnow()}})

    async def count_active_admins(self) -> int:
        return await self.collection.count_documents({"role": "admin", "active": True})
