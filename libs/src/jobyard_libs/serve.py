"""Run a service's ASGI app with uvicorn, logging through structlog.

Usage
-----

::

    serve(create_app(settings), settings, service="api")
"""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections.abc import Callable
from types import FrameType
from typing import TypeVar

import uvicorn
from fastapi import FastAPI

from jobyard_libs.cli import load_settings
from jobyard_libs.logging import configure_logging
from jobyard_libs.settings import HttpServiceSettings
from jobyard_libs.streams import stop_streams

S = TypeVar("S", bound=HttpServiceSettings)


# Longest a stopping service waits for in-flight requests before closing them: below the
# pods' terminationGracePeriodSeconds (30), so that it never ends in a SIGKILL.
SHUTDOWN_GRACE_SECONDS = 20


class _Server(uvicorn.Server):
    """uvicorn's server, which also ends live streams when it is asked to stop
    (:mod:`jobyard_libs.streams`): otherwise it would wait for them for ever."""

    loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.loop is not None:
            stop_streams(self.loop)
        super().handle_exit(sig, frame)


def serve(app: FastAPI, settings: HttpServiceSettings, *, service: str) -> None:
    configure_logging(service=service, level=settings.log_level, fmt=settings.log_format.value)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
    )
    _Server(config).run()


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
