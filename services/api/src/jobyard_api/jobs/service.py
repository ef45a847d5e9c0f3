"""Imported postings: filtered, paginated, every filter backed by an index."""

from __future__ import annotations

from typing import Any

from jobyard_libs.errors import NotFoundError
from jobyard_libs.imports.jobs import JobRepository, jobs_query
from jobyard_libs.mongo import Database, Document

from jobyard_api.ids import object_id
from jobyard_api.jobs.schemas import JobDetail, JobOut


class JobNotFound(NotFoundError):
    message = "job not found"


def _fields(doc: Document) -> dict[str, Any]:
    return {
        "id": str(doc["_id"]),
        "external_id": doc["externalId"],
        "title": doc["title"],
        "company": doc.get("company"),
        "location": doc.get("location"),
        "category": doc.get("category"),
        "job_type": doc.get("jobType"),
        "region": doc.get("region"),
        "salary": doc.get("salary"),
        "url": doc.get("url"),
        "feed_url": doc["feedUrl"],
        "published_at": doc.get("publishedAt"),
        "created_at": doc["createdAt"],
        "updated_at": doc["updatedAt"],
    }


def to_out(doc: Document) -> JobOut:
    return JobOut(**_fields(doc))


def to_detail(doc: Document) -> JobDetail:
    return JobDetail(**_fields(doc), description=doc.get("description"), raw_data=doc.get("rawData") or {})


class JobService:
    def __init__(self, db: Database) -> None:
        self.repository = JobRepository(db)

    async def page(
        self, filters: dict[str, str | None], q: str | None, skip: int, limit: int
    ) -> tuple[list[Document], int]:
        return await self.repository.page(jobs_query(filters, q), skip, limit)

    async def get(self, job_id: str) -> Document:
        oid = object_id(job_id)
        doc = await self.repository.get(oid) if oid else None
        if doc is None:
            raise JobNotFound()
        return doc
