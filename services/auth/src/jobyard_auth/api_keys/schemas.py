from __future__ import annotations

from jobyard_libs.auth import KeyScope, Role
from jobyard_libs.schemas import ApiModel
from pydantic import Field


class ApiKeyIn(ApiModel):
    name: str = Field(min_length=1, max_length=100)
    expires_in_days: int | None = Field(
        None,
        ge=1,
        le=3650,
        description="default JOBYARD_API_KEY_DEFAULT_DAYS; at most JOBYARD_API_KEY_MAX_DAYS",
    )
    scopes: list[KeyScope] = Field(
        default_factory=lambda: [KeyScope.TASKS],
        min_length=1,
        max_length=3,
        description="read (GETs only), tasks (also changes: tasks, executions, dead letters), admin (also the "
        "admin routes; admins only)",
    )


class IntrospectIn(ApiModel):
    key: str = Field(min_length=1, max_length=256)


class IntrospectOut(ApiModel):
    active: bool
    subject: str | None = None
    role: Role | None = None
    key_id: str | None = None
    scopes: list[KeyScope] | None = None
