"""How long finished work is kept (:mod:`jobyard_libs.retention`), for users and the console."""

from __future__ import annotations

from fastapi import APIRouter
from jobyard_libs.retention import RetentionOut

from jobyard_api.deps import CurrentPrincipal, Retention

router = APIRouter(prefix="/api/v1/retention", tags=["retention"])


@router.get("")
async def get_retention(principal: CurrentPrincipal, retention: Retention) -> RetentionOut:
    """How long each kind of finished work is kept before it is deleted; a task keeps its
    last outcome and its counts of runs (``expiredRuns``) after its executions go."""
    return RetentionOut.of(retention)
