"""Does nothing, successfully: for demos, health checks and benchmarks."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from jobyard_libs.auth import Role

NAME = "noop"
ROLES = frozenset(Role)


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")
