"""Sleeps for a while, or fails on request: for demos, timeouts and retry drills."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

NAME = "sleep"


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(1.0, ge=0, le=3600)
    fail_times: int = Field(0, ge=0, le=100, alias="failTimes", description="fail the first N attempts")


class SleepFailed(Exception):
    pass


async def run(context: Any, payload: Payload) -> dict[str, Any]:
    await asyncio.sleep(payload.seconds)
    attempt = getattr(context, "attempt", 1)
    if attempt <= payload.fail_times:
        raise SleepFailed(f"failing attempt {attempt} of the first {payload.fail_times}, as asked")
    return {"slept": payload.seconds}
