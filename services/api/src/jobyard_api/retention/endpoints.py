"""How long finished work is kept (:mod:`jobyard_libs.retention`), for users and the console."""

from __future__ import annotations

from fastapi import APIRouter
from jobyard_libs.schemas import ApiModel
from pydantic import Field

from jobyard_api.deps import CurrentPrincipal, Retention

router = APIRouter(prefix="/api/v1/retention", tags=["retention"])


class RetentionOut(ApiModel):
    completed_seconds: int = Field(description="a completed execution, after it finished")
    failed_seconds: int = Field(
        description="a dead or cancelled execution and its dead letter, after it finished: "
        "the window in which a dead one can be replayed"
    )
    import_logs_seconds: int = Field(description="a finished import's log")
    raw_feeds_seconds: int = Field(description="the raw copy of a fetched feed")


@router.get("")
async def get_retention(principal: CurrentPrincipal, retention: Retention) -> RetentionOut:
    """How long each kind of finished work is kept before it is deleted; a task keeps its
    last outcome and its counts of runs (``expiredRuns``) after its executions go."""
    return RetentionOut(
        completed_seconds=int(retention.completed.total_seconds()),
        failed_seconds=int(retention.failed.total_seconds()),
        import_logs_seconds=int(retention.import_logs.total_seconds()),
        raw_feeds_seconds=int(retention.raw_feeds.total_seconds()),
    )
