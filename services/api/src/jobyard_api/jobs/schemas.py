from __future__ import annotations

from datetime import datetime
from typing import Any

from jobyard_libs.documents import IdStr
from jobyard_libs.schemas import ApiModel
from pydantic import Field


class JobOut(ApiModel):
    id: IdStr
    external_id: str
    title: str
    company: str | None
    location: str | None
    category: str | None
    job_type: str | None
    region: str | None
    salary: str | None
    url: str | None
    feed_url: str
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime


class JobDetail(JobOut):
    description: str | None = Field(
        description="sanitised HTML: basic formatting and http(s)/mailto links only, made safe at import"
    )
    description_text: str | None = Field(None, description="the description as plain text")
    raw_data: dict[str, Any]
