"""The ``raw_feeds`` collection: each fetched feed, gzip-compressed in chunks, for 7 days.

A feed can be larger than a BSON document (16 MiB), so it is stored as numbered chunks of
compressed bytes; concatenated in ``seq`` order they decompress to the original body.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import IO

from bson import Binary, ObjectId

from jobyard_libs.mongo import Database, IndexSpec, utcnow

COLLECTION = "raw_feeds"
RETENTION_SECONDS = 7 * 24 * 3600
READ_BYTES = 4 * 1024 * 1024
CHUNK_BYTES = 4 * 1024 * 1024
INDEXES = [
    IndexSpec(COLLECTION, [("fetchedAt", 1)], expire_after_seconds=RETENTION_SECONDS),
    IndexSpec(COLLECTION, [("importLogId", 1), ("seq", 1)], unique=True),
]


class RawFeedRepository:
    def __init__(self, db: Database) -> None:
        self.collection = db[COLLECTION]

    async def store(self, *, log_id: ObjectId, feed_url: str, body: IO[bytes]) -> int:
        """Store ``body`` (read from its start, left at its start); returns chunks written."""
        fetched_at = utcnow()
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: gzip container
        pending = bytearray()
        seq = 0

        async def flush(data: bytes) -> None:
            nonlocal seq
            await self.collection.insert_one(
                {
                    "importLogId": log_id,
                    "feedUrl": feed_url,
                    "seq": seq,
                    "data": Binary(data),
                    "fetchedAt": fetched_at,
                }
            )
            seq += 1

        body.seek(0)
        while piece := await asyncio.to_thread(body.read, READ_BYTES):
            pending += compressor.compress(piece)
            if len(pending) >= CHUNK_BYTES:
                await flush(bytes(pending))
                pending.clear()
        pending += compressor.flush()
        await flush(bytes(pending))
        body.seek(0)
        return seq

    async def load(self, log_id: ObjectId) -> bytes:
        chunks = await self.collection.find({"importLogId": log_id}).sort("seq", 1).to_list()
        return zlib.decompress(b"".join(bytes(c["data"]) for c in chunks), 31)
