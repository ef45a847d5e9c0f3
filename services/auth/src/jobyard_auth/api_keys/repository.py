"""The ``api_keys`` collection: SHA-256 of each key (keys are 256-bit random, so a fast
hash is safe), never the key itself."""

from __future__ import annotations

from bson import ObjectId
from jobyard_libs.listing import Slice, Window, paginate
from jobyard_libs.mongo import Database, IndexSpec, hint_for, utcnow

from jobyard_auth.api_keys.documents import ApiKey

COLLECTION = "api_keys"
NEWEST = [("createdAt", -1), ("_id", -1)]
PER_USER_INDEX = IndexSpec(COLLECTION, [("userId", 1), *NEWEST])
LIST_INDEX = IndexSpec(COLLECTION, NEWEST)
INDEXES = [IndexSpec(COLLECTION, [("hash", 1)], unique=True), PER_USER_INDEX, LIST_INDEX]


class ApiKeyRepository:
    def __init__(self, db: Database) -> None:
        self.collection = db[COLLECTION]

    async def insert(self, key: ApiKey) -> ApiKey:
        await self.collection.insert_one(key.to_mongo())
        return key

    async def by_hash(self, key_hash: str) -> ApiKey | None:
        return ApiKey.from_mongo(await self.collection.find_one({"hash": key_hash}))

    async def get(self, key_id: ObjectId, user_id: ObjectId | None) -> ApiKey | None:
        """The key, if it is ``user_id``'s (``None``: anyone's, for an admin)."""
        query = {"_id": key_id} if user_id is None else {"_id": key_id, "userId": user_id}
        return ApiKey.from_mongo(await self.collection.find_one(query))

    async def page(self, user_id: ObjectId | None, window: Window) -> Slice[ApiKey]:
        query = {} if user_id is None else {"userId": user_id}
        index = hint_for(query, [PER_USER_INDEX], LIST_INDEX)
        return await paginate(self.collection, query, NEWEST, index, window, ApiKey)

    async def live_of_user(self, user_id: ObjectId) -> list[ApiKey]:
        return ApiKey.many(await self.collection.find({"userId": user_id, "revokedAt": None}).to_list())

    async def revoke(self, key_id: ObjectId) -> ApiKey | None:
        await self.collection.update_one(
            {"_id": key_id, "revokedAt": None}, {"$set": {"revokedAt": utcnow()}}
        )
        return ApiKey.from_mongo(await self.collection.find_one({"_id": key_id}))
