"""``jobyard-monitor``: serve queue depth as Prometheus metrics and JSON stats."""

from __future__ import annotations

import argparse
import sys

from jobyard_libs.serve import serve

from jobyard_monitor.app import create_app
from jobyard_monitor.settings import MonitorSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobyard-monitor", description=__doc__)
    parser.add_argument("command", nargs="?", choices=["serve"], default="serve")
    parser.parse_args(argv)
    settings = MonitorSettings()
    serve(create_app(settings), settings, service="monitor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
