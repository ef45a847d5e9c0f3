"""sleep: wait, then succeed, or fail the first ``failTimes`` attempts as asked."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from jobyard_libs.tasks.kinds.sleep import NAME, Payload

if TYPE_CHECKING:
    from jobyard_worker.tasks.runners import KindContext

__all__ = ["NAME", "SleepFailed", "run"]


class SleepFailed(Exception):
    pass


async def run(context: KindContext, payload: Payload) -> dict[str, Any]:
    context.log.info("sleeping", seconds=payload.seconds)
    await asyncio.sleep(payload.seconds)
    if context.attempt <= payload.fail_times:
        context.log.warning("failing as asked", attempt=context.attempt, fail_times=payload.fail_times)
        raise SleepFailed(f"failing attempt {context.attempt} of the first {payload.fail_times}, as asked")
    return {"slept": payload.seconds}
