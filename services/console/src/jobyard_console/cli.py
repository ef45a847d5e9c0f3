"""``jobyard-console``: serve the web console."""

from __future__ import annotations

import sys

from jobyard_libs.serve import serve_command

from jobyard_console.app import create_app
from jobyard_console.settings import ConsoleSettings


def main(argv: list[str] | None = None) -> int:
    return serve_command(
        argv, service="console", description=__doc__, settings=ConsoleSettings, create_app=create_app
    )


if __name__ == "__main__":
    sys.exit(main())
