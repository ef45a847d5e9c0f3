"""Run a service's ASGI app with uvicorn, logging through structlog.

Examples
--------
>>> serve(create_app(settings), settings, service="api")  # doctest: +SKIP
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from jobyard_libs.logging import configure_logging
from jobyard_libs.settings import HttpServiceSettings


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
