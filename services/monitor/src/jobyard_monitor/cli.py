"""``jobyard-monitor``: serve queue depth as Prometheus metrics and JSON stats."""

from __future__ import annotations

import sys

from jobyard_libs.serve import serve_command

from jobyard_monitor.app import create_app
from jobyard_monitor.settings import MonitorSettings


def main(argv: list[str] | None = None) -> int:
    return serve_command(
        argv, service="monitor", description=__doc__, settings=MonitorSettings, create_app=create_app
    )


if __name__ == "__main__":
    sys.exit(main())
