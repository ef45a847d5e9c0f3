"""Run a service's ASGI app with uvicorn, logging through structlog.

Usage
-----

::

    serve(create_app(settings), settings, service="api")
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

import uvicorn
from fastapi import FastAPI

from jobyard_libs.cli import load_settings
from jobyard_libs.logging import configure_logging
from jobyard_libs.settings import HttpServiceSettings

S = TypeVar("S", bound=HttpServiceSettings)


def serve(app: FastAPI, settings: HttpServiceSettings, *, service: str) -> None:
    configure_logging(service=service, level=settings.log_level, fmt=settings.log_format.value)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_config=None,
        access_log=False,
    )


def serve_command(
    argv: list[str] | None,
    *,
    service: str,
    description: str | None,
    settings: type[S],
    create_app: Callable[[S], FastAPI],
) -> int:
    """``jobyard-<service> [serve]``: the whole CLI of a service that only serves HTTP."""
    parser = argparse.ArgumentParser(prog=f"jobyard-{service}", description=description)
    parser.add_argument("command", nargs="?", choices=["serve"], default="serve")
    parser.parse_args(argv)
    loaded = load_settings(settings, f"jobyard-{service}")
    serve(create_app(loaded), loaded, service=service)
    return 0
