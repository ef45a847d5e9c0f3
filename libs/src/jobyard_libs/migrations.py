"""One-off data migrations, each run to its end once per database (``jobyard-scheduler migrate``).

Each migration is idempotent by itself; once one has finished, a document in ``migrations``
says so and later runs skip it, so ``make run`` and every upgrade may call ``migrate`` at no
cost. Code of the new version never writes what a migration fixes.

Usage
-----

::

    await Migrations(db).run_once("job-descriptions-sanitized", JobRepository(db).sanitize_stored)
    # → how many documents it changed; 0 when it had run before
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from jobyard_libs.mongo import Database, utcnow

COLLECTION = "migrations"


class Migrations:
    def __init__(self, db: Database) -> None:
        self.collection = db[COLLECTION]

    async def run_once(self, name: str, migrate: Callable[[], Awaitable[int]]) -> int:
        if await self.collection.find_one({"_id": name}) is not None:
            return 0
        changed = await migrate()
        await self.collection.update_one(
            {"_id": name}, {"$setOnInsert": {"finishedAt": utcnow(), "changed": changed}}, upsert=True
        )
        return changed
