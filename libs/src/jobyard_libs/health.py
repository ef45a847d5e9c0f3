"""``/healthz`` (the process is alive) and ``/readyz`` (MongoDB and Redis answer).

``/readyz`` answers 503 naming each dependency that failed, so a probe's event in
Kubernetes says which one is down.

Usage
-----

::

    app.include_router(health_router())
    # → GET /readyz -> 503 {"status": "unavailable", "checks": {"mongodb": "ok", "redis": "error: ..."}}
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

Check = Callable[[Request], Awaitable[object]]
CHECK_TIMEOUT_SECONDS = 2.0


async def _mongodb(request: Request) -> object:
    return await request.app.state.resources.mongo.admin.command("ping")


async def _redis(request: Request) -> object:
    return await request.app.state.resources.redis.ping()


DEFAULT_CHECKS: dict[str, Check] = {"mongodb": _mongodb, "redis": _redis}


class Alive(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str  # ready | unavailable
    checks: dict[str, str]  # dependency → "ok" or the error


def health_router(checks: dict[str, Check] | None = None) -> APIRouter:
    checks = checks or DEFAULT_CHECKS
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> Alive:
        """Alive: the process answers. Never depends on MongoDB or Redis."""
        return Alive(status="ok")

    @router.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "A dependency is unreachable"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        async def run(check: Check) -> str:
            try:
                await asyncio.wait_for(check(request), CHECK_TIMEOUT_SECONDS)
            except Exception as exc:  # a failed probe is an answer, not an error
                return f"error: {type(exc).__name__}: {exc}"[:300]
            return "ok"

        names = list(checks)
        results = await asyncio.gather(*(run(checks[n]) for n in names))
        report = dict(zip(names, results, strict=True))
        ready = all(r == "ok" for r in results)
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": report},
            status_code=200 if ready else 503,
        )

    return router
