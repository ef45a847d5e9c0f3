"""Does nothing, successfully: for demos, health checks and benchmarks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

NAME = "noop"


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


async def run(context: Any, payload: Payload) -> dict[str, Any]:
    return {}
