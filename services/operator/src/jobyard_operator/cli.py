"""``jobyard-operator``: scale worker Deployments on Dramatiq queue depth (WorkerAutoscaler)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from jobyard_libs.cli import load_settings
from jobyard_libs.logging import configure_logging

from jobyard_operator.runner import run_operator, serve_metrics
from jobyard_operator.settings import OperatorSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobyard-operator", description=__doc__)
    parser.add_argument("command", nargs="?", choices=["run"], default="run")
    parser.parse_args(argv)
    settings = load_settings(OperatorSettings, "jobyard-operator")
    configure_logging(service="operator", level=settings.log_level, fmt=settings.log_format.value)
    serve_metrics(settings)
    asyncio.run(run_operator(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
