"""``jobyard-api``: serve the public REST API."""

from __future__ import annotations

import sys

from jobyard_libs.serve import serve_command

from jobyard_api.app import create_app
from jobyard_api.settings import ApiSettings


def main(argv: list[str] | None = None) -> int:
    return serve_command(
        argv, service="api", description=__doc__, settings=ApiSettings, create_app=create_app
    )


if __name__ == "__main__":
    sys.exit(main())
