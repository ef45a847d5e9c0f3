"""The ``users`` collection. Only this module touches it."""

from __future__ import annotations

from bson import ObjectId
from jobyard_libs.listing import Slice, Window, paginate
from jobyard_libs.mongo import Database, Document, IndexSpec, update_by_id, utcnow
from jobyard_libs.roles import Role
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


class IdentityTaken(Exception):
    """Another account holds this Google identity."""


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
        return await paginate(self.collection, {}, NEWEST, LIST_INDEX, window, User)

    async def _set(self, user_id: ObjectId, update: Document, expect: Document | None = None) -> User | None:
        update = {**update, "$set": {**update.get("$set", {}), "updatedAt": utcnow()}}
        return User.from_mongo(await update_by_id(self.collection, user_id, update, expect=expect))

    async def set_rights(self, user_id: ObjectId, *, role: Role, active: bool) -> User | None:
        return await self._set(user_id, {"$set": {"role": role.value, "active": active}})

    async def replace_password_hash(self, user_id: ObjectId, old: str, new: str) -> bool:
        """The same password, hashed again; only if the hash is still ``old`` (no change raced)."""
        return (
            await self._set(user_id, {"$set": {"passwordHash": new}}, expect={"passwordHash": old})
            is not None
        )

    async def count_failed_sign_in(self, user_id: ObjectId) -> User | None:
        """One more consecutive failure; the user as counted."""
        return await self._set(user_id, {"$inc": {"failedSignIns": 1}})

    async def lock_sign_in(self, user_id: ObjectId) -> User | None:
        """Lock password sign-in; ``None`` when it was locked already."""
        return await self._set(
            user_id, {"$set": {"signInLockedAt": utcnow()}}, expect={"signInLockedAt": None}
        )

    async def clear_failed_sign_ins(self, user_id: ObjectId) -> User | None:
        """A success or an admin's unlock: no failures, no lock."""
        return await self._set(user_id, {"$set": {"failedSignIns": 0, "signInLockedAt": None}})

    async def link_google(self, user_id: ObjectId, sub: str, *, email_verified: bool) -> User | None:
        """Bind a Google identity (``googleSub`` is unique: one account per Google identity)."""
        fields: Document = {"googleSub": sub}
        if email_verified:
            fields["emailVerified"] = True
        try:
            return await self._set(user_id, {"$set": fields})
        except DuplicateKeyError as exc:
            raise IdentityTaken(sub) from exc

    async def count_active_admins(self) -> int:
        return await self.collection.count_documents({"role": "admin", "active": True})
