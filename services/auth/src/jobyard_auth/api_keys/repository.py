"""The ``api_keys`` collection: SHA-256 of each key (keys are 256-bit random, so a fast
hash is safe), never the key itself."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId
from jobyard_libs.mongo import Database, Document, IndexSpec, utcnow

COLLECTION = "api_keys"
INDEXES = [
    IndexSpec(COLLECTION, [("hash", 1)], unique=True),
    IndexSpec(COLLECTION, [("userId", 1), ("createdAt", -1)]),
    IndexSpec(COLLECTION, [("createdAt", -1)]),
]


class ApiKeyRepository:
    def __init__(self, db: Database) -> None:
        self.collection = db[COLLECTION]

    async def insert(
        self,
        *,
        user_id: ObjectId,
        name: str,
        prefix: str,
        key_hash: str,
        expires_at: datetime | None,
    ) -> Document:
        doc: Document = {
            "userId": user_id,
            "name": name,
            "prefix": prefix,
            "hash": key_hash,
            "createdAt": utcnow(),
            "expiresAt": expires_at,
            "revokedAt": None,
        }
        doc["_id"] = (await self.collection.insert_one(doc)).inserted_id
        return doc

    async def by_hash(self, key_hash: str) -> Document | None:
        return await self.collection.find_one({"hash": key_hash})

    async def by_id(self, key_id: ObjectId) -> Document | None:
        return await self.collection.find_one({"_id": key_id})

    async def list(self, user_id: ObjectId | None, skip: int, limit: int) -> tuple[list[Document], int]:
        query: Document = {} if user_id is None else {"userId": user_id}
        cursor = self.collection.find(query).sort("createdAt", -1).skip(skip).limit(limit)
        return await cursor.to_list(), await self.collection.count_documents(query)

    async def revoke(self, key_id: ObjectId) -> Document | None:
        await self.collection.update_one(
            {"_id": key_id, "revokedAt": None}, {"$set": {"revokedAt": utcnow()}}
        )
        return await self.by_id(key_id)
