"""The ``refresh_tokens`` collection: hashed tokens grouped in rotation families.

A token's ``_id`` is the SHA-256 of its value; the value itself is never stored. Every
token issued by refreshing belongs to the family of the login that started it, so that a
reused (already rotated) token can revoke the whole family at once.
"""

from __future__ import annotations

from bson import ObjectId
from jobyard_libs.mongo import Database, IndexSpec, update_by_id, utcnow

from jobyard_auth.sessions.documents import RefreshToken

COLLECTION = "refresh_tokens"
INDEXES = [
    IndexSpec(COLLECTION, [("familyId", 1)]),
    IndexSpec(COLLECTION, [("userId", 1), ("revokedAt", 1)]),
    IndexSpec(COLLECTION, [("expiresAt", 1)], expire_after_seconds=0),
]


class RefreshTokenRepository:
    def __init__(self, db: Database) -> None:
        self.collection = db[COLLECTION]

    async def insert(self, token: RefreshToken) -> None:
        await self.collection.insert_one(token.to_mongo())

    async def rotate(self, token_hash: str) -> RefreshToken | None:
        """Mark a live token used, atomically; the token as marked, or ``None`` when it is not live."""
        now = utcnow()
        return RefreshToken.from_mongo(
            await update_by_id(
                self.collection,
                token_hash,
                {"$set": {"rotatedAt": now}},
                expect={"rotatedAt": None, "revokedAt": None, "expiresAt": {"$gt": now}},
            )
        )

    async def get(self, token_hash: str) -> RefreshToken | None:
        return RefreshToken.from_mongo(await self.collection.find_one({"_id": token_hash}))

    async def revoke_family(self, family_id: str) -> int:
        result = await self.collection.update_many(
            {"familyId": family_id, "revokedAt": None}, {"$set": {"revokedAt": utcnow()}}
        )
        return result.modified_count

    async def revoke_user(self, user_id: ObjectId) -> int:
        result = await self.collection.update_many(
            {"userId": user_id, "revokedAt": None}, {"$set": {"revokedAt": utcnow()}}
        )
        return result.modified_count
