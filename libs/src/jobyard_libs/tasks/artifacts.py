"""Files that executions produce (CSV exports), kept in GridFS (``artifacts`` bucket).

Written as a stream of chunks and read back as one, so an export of a million rows never
sits in memory whole. Each file carries its execution and owner in its metadata.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from bson import ObjectId
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile

from jobyard_libs.mongo import Database

BUCKET = "artifacts"


@dataclass(frozen=True)
class Artifact:
    filename: str
    content_type: str
    length: int
    chunks: AsyncIterator[bytes]


class ArtifactRepository:
    def __init__(self, db: Database) -> None:
        self.bucket = AsyncGridFSBucket(db, bucket_name=BUCKET)

    async def write(
        self,
        *,
        filename: str,
        content_type: str,
        execution_id: str,
        owner_id: str,
        parts: AsyncIterator[bytes],
    ) -> tuple[ObjectId, int]:
        metadata = {"executionId": execution_id, "ownerId": owner_id, "contentType": content_type}
        size = 0
        async with self.bucket.open_upload_stream(filename, metadata=metadata) as upload:
            async for part in parts:
                await upload.write(part)
                size += len(part)
        file_id: ObjectId = upload._id
        return file_id, size

    async def read(self, file_id: ObjectId) -> Artifact | None:
        try:
            download = await self.bucket.open_download_stream(file_id)
        except NoFile:
            return None

        async def chunks() -> AsyncIterator[bytes]:
            while data := await download.readchunk():
                yield data
            await download.close()

        metadata = download.metadata or {}
        return Artifact(download.filename or "artifact", metadata.get("contentType", "application/octet-stream"),
                        download.length, chunks())  # fmt: skip
