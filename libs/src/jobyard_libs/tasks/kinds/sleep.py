"""Sleeps for a while, or fails on request: for demos, timeouts and retry drills."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jobyard_libs.auth import Role

NAME = "sleep"
ROLES = frozenset(Role)


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    seconds: float = Field(1.0, ge=0, le=3600)
    fail_times: int = Field(0, ge=0, le=100, alias="failTimes", description="fail the first N attempts")
