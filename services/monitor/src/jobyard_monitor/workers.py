"""``GET /api/v1/workers`` (admins): every worker process from its heartbeats and card, what
it runs now, and the scheduler's leader with its last tick (the console's Workers page)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from jobyard_libs.auth import AdminPrincipal
from jobyard_libs.mongo import Database, utcnow
from jobyard_libs.monitoring import LeaderOut, RunningOut, WorkerOut, WorkersOut
from jobyard_libs.queue.liveness import LEADER_TICK, LeaderTick, roster
from jobyard_libs.redis_client import RedisKeys
from jobyard_libs.tasks.repository import ExecutionRepository
from redis.asyncio import Redis

router = APIRouter(prefix="/api/v1", tags=["workers"])


class WorkerBoard:
    def __init__(self, redis: Redis, keys: RedisKeys, db: Database, namespace: str, timeout_ms: int) -> None:
        self.redis = redis
        self.keys = keys
        self.executions = ExecutionRepository(db)
        self.namespace = namespace
        self.timeout_ms = timeout_ms

    async def read(self) -> WorkersOut:
        now = utcnow()
        seen = await roster(self.redis, self.namespace, self.timeout_ms)
        held: dict[str, list[RunningOut]] = {}
        for execution in await self.executions.held_by(worker.id for worker in seen):
            held.setdefault(execution.holder or "", []).append(
                RunningOut(
                    execution_id=str(execution.id),
                    task_id=str(execution.task_id),
                    kind=execution.kind,
                    attempt=execution.attempts,
                    started_at=execution.last_attempt_at,
                )
            )
        workers = []
        for worker in seen:
            card = worker.card
            workers.append(
                WorkerOut(
                    id=worker.id,
                    host=card.host if card else None,
                    pid=card.pid if card else None,
                    queues=card.queues if card else [],
                    threads=card.threads if card else None,
                    started_at=card.started_at if card else None,
                    version=card.version if card else None,
                    rss_bytes=card.rss_bytes if card else None,
                    beat_at=worker.beat_at,
                    beat_age_seconds=max(0.0, (now - worker.beat_at).total_seconds()),
                    stale=worker.stale,
                    running=held.get(worker.id, []),
                )
            )
        return WorkersOut(
            heartbeat_timeout_seconds=self.timeout_ms / 1000,
            workers=workers,
            scheduler=await self._leader(now),
        )

    async def _leader(self, now: datetime) -> LeaderOut:
        present = bool(await self.redis.exists(self.keys.key("scheduler", "leader")))
        raw = await self.redis.get(self.keys.key(*LEADER_TICK))
        if raw is None:
            return LeaderOut(present=present)
        tick = LeaderTick.model_validate_json(raw)
        return LeaderOut(
            present=present,
            host=tick.host,
            pid=tick.pid,
            fence=tick.fence,
            tick_at=tick.tick_at,
            tick_age_seconds=max(0.0, (now - tick.tick_at).total_seconds()),
        )


async def _board(request: Request) -> WorkerBoard:
    board: WorkerBoard = request.app.state.workers
    return board


@router.get("/workers")
async def list_workers(_: AdminPrincipal, board: Annotated[WorkerBoard, Depends(_board)]) -> WorkersOut:
    """Each worker process that beat in the last hour (stale ones marked), what it runs now,
    and the scheduler's leader with its last tick."""
    return await board.read()
