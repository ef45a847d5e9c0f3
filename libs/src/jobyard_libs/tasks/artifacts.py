"""Files that executions produce (CSV exports), kept in GridFS (``artifacts`` bucket).

Written as a stream of chunks and read back as one, so an export of a million rows never
sits in memory whole. Each file carries its execution, its owner and when it expires in
its metadata; it is found by its execution and owner, never by an id a result names, and
the scheduler's leader deletes expired files (:meth:`ArtifactRepository.delete_expired`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from bson import ObjectId
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile

from jobyard_libs.mongo import Database, IndexSpec

BUCKET = "artifacts"
FILES = f"{BUCKET}.files"
INDEXES = [
    IndexSpec(FILES, [("metadata.executionId", 1), ("uploadDate", -1)]),
    IndexSpec(FILES, [("metadata.expiresAt", 1)]),
]


@dataclass(frozen=True)
class Artifact:
    filename: str
    content_type: str
    length: int
    chunks: AsyncIterator[bytes]


class ArtifactRepository:
    def __init__(self, db: Database) -> None:
        self.bucket = AsyncGridFSBucket(db, bucket_name=BUCKET)
        self.files = db[FILES]

    async def write(
        self,
        *,
        filename: str,
        content_type: str,
        execution_id: str,
        owner_id: str,
        parts: AsyncIterator[bytes],
        expires_at: datetime,
    ) -> tuple[ObjectId, int]:
        metadata = {
            "executionId": execution_id,
            "ownerId": owner_id,
            "contentType": content_type,
            "expiresAt": expires_at,
        }
        size = 0
        async with self.bucket.open_upload_stream(filename, metadata=metadata) as upload:
            async for part in parts:
                await upload.write(part)
                size += len(part)
        file_id: ObjectId = upload._id
        return file_id, size

    async def for_execution(self, execution_id: str, owner_id: str, now: datetime) -> Artifact | None:
        """The newest unexpired file of this execution, if it belongs to ``owner_id``."""
        found = await self.files.find_one(
            {
                "metadata.executionId": execution_id,
                "metadata.ownerId": owner_id,
                "metadata.expiresAt": {"$gt": now},
            },
            sort=[("uploadDate", -1)],
        )
        if found is None:
            return None
        try:
            download = await self.bucket.open_download_stream(found["_id"])
        except NoFile:
            return None

        async def chunks() -> AsyncIterator[bytes]:
            while data := await download.readchunk():
                yield data
            await download.close()

        metadata = download.metadata or {}
        return Artifact(
            download.filename or "artifact",
            metadata.get("contentType", "application/octet-stream"),
            download.length,
            chunks(),
        )

    async def delete_expired(self, now: datetime, limit: int = 100) -> int:
        expired = self.files.find({"metadata.expiresAt": {"$lte": now}}, {"_id": 1}).limit(limit)
        deleted = 0
        async for doc in expired:
            try:
                await self.bucket.delete(doc["_id"])  # the file and its chunks
            except NoFile:
                continue
            deleted += 1
        return deleted
