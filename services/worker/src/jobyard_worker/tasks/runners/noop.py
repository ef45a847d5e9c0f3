"""noop: nothing, successfully."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jobyard_libs.tasks.kinds.noop import NAME, Payload

if TYPE_CHECKING:
    from jobyard_worker.tasks.runners import KindContext

__all__ = ["NAME", "run"]


async def run(context: KindContext, payload: Payload) -> dict[str, Any]:
    return {}
