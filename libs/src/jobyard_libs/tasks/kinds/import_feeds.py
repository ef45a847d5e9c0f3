"""Runs a feed import: every enabled feed source, or the ones named (admins only)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jobyard_libs.auth import Role

NAME = "import-feeds"
ROLES = frozenset({Role.ADMIN})  # imports are an admin's action, through the API or a task


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    feed_urls: list[str] | None = Field(None, alias="feedUrls", max_length=100)
