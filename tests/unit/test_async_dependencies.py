"""Every route's endpoint and dependencies are coroutines.

FastAPI runs a plain ``def`` dependency in a thread pool: a hop to another thread and back
for every request, for what is a dictionary look-up. On the api at 100 submits/s, the two
on ``POST /api/v1/tasks`` took 7 % of its py-spy samples (docs/performance.md).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from jobyard_api.app import create_app as api_app
from jobyard_auth.app import create_app as auth_app
from jobyard_console.app import create_app as console_app
from jobyard_monitor.app import create_app as monitor_app

pytestmark = pytest.mark.unit
APPS: dict[str, Callable[[], FastAPI]] = {
    "api": api_app,
    "auth": auth_app,
    "console": console_app,
    "monitor": monitor_app,
}


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    for route in routes:
        included = getattr(route, "original_router", None)  # an included router, as FastAPI keeps it
        if included is not None:
            yield from api_routes(included.routes)
        elif isinstance(route, APIRoute):
            yield route


def runs_in_a_thread(call: Callable[..., Any]) -> bool:
    target = call if inspect.isfunction(call) or inspect.ismethod(call) else type(call).__call__
    return not (inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target))


def threaded(dependant: Dependant) -> Iterator[str]:
    for sub in dependant.dependencies:
        if sub.call is not None and runs_in_a_thread(sub.call):
            yield f"{sub.call.__module__}.{sub.call.__qualname__}"
        yield from threaded(sub)


@pytest.mark.parametrize("service", sorted(APPS))
def test_no_route_runs_a_dependency_or_endpoint_in_a_thread(service: str) -> None:
    routes = list(api_routes(APPS[service]().routes))
    assert routes, "no routes found: the walk no longer sees FastAPI's included routers"
    found = {
        f"{route.path}: {name}"
        for route in routes
        for name in (
            *threaded(route.dependant),
            *([f"endpoint {route.endpoint.__qualname__}"] if runs_in_a_thread(route.endpoint) else []),
        )
    }
    assert not found, "make these async def (a plain def runs in FastAPI's thread pool):\n" + "\n".join(
        sorted(found)
    )


def test_the_check_sees_a_plain_def() -> None:
    def plain() -> None: ...

    async def coroutine() -> None: ...

    assert runs_in_a_thread(plain)
    assert not runs_in_a_thread(coroutine)
