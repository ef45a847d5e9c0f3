"""The module Dramatiq's CLI imports in each worker process (``jobyard-worker`` passes it).

Setting the broker up here, on import, is what Dramatiq's CLI requires; this is the only
module that does so, and only the worker's entry point imports it.
"""

from __future__ import annotations

from jobyard_libs.logging import configure_logging

from jobyard_worker.settings import WorkerSettings
from jobyard_worker.setup import create_worker_broker

settings = WorkerSettings()
configure_logging(service="worker", level=settings.log_level, fmt=settings.log_format.value)
broker = create_worker_broker(settings)
