"""The ``users`` collection. Only this module touches it."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from jobyard_libs.documents import stored
from jobyard_libs.listing import Slice, Window, paginate
from jobyard_libs.mongo import Database, IndexSpec, update_by_id, utcnow
from pymongo.errors import DuplicateKeyError

from jobyard_auth.users.documents import User

COLLECTION = "users"
NEWEST = [("createdAt", -1), ("_id", -1)]
LIST_INDEX = IndexSpec(COLLECTION, NEWEST)
INDEXES = [
    IndexSpec(COLLECTION, [("email", 1)], unique=True),
    IndexSpec(
        COLLECTION,
        [("googleSub", 1)],
        unique=True,
        partial_filter={"googleSub": {"$type": "string"}},
    ),
    LIST_INDEX,
    IndexSpec(COLLECTION, [("role", 1), ("active", 1)]),
]


class EmailTaken(Exception):
    pass


class UserRepository:
    def __init__(self, db: Database) -> None:
        self.collection = db[COLLECTION]

    async def insert(self, user: User) -> User:
        try:
            await self.collection.insert_one(user.to_mongo())
        except DuplicateKeyError as exc:
            raise EmailTaken(user.email) from exc
        return user

    async def by_id(self, user_id: ObjectId) -> User | None:
        return User.from_mongo(await self.collection.find_one({"_id": user_id}))

    async def by_email(self, email: str) -> User | None:
        return User.from_mongo(await self.collection.find_one({"email": email}))

    async def by_google_sub(self, sub: str) -> User | None:
        return User.from_mongo(await self.collection.find_one({"googleSub": sub}))

    async def page(self, window: Window) -> Slice[User]:
        return await paginate(self.collection, {}, NEWEST, LIST_INDEX.name, window, User)

    async def update(self, user_id: ObjectId, **fields: Any) -> User | None:
        """Change ``fields`` (attribute names)."""
        changes = {"$set": stored(User, **fields, updated_at=utcnow())}
        return User.from_mongo(await update_by_id(self.collection, user_id, changes))

    async def count_active_admins(self) -> int:
        return await self.collection.count_documents({"role": "admin", "active": True})
