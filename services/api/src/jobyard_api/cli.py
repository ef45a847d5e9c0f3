"""``jobyard-api``: serve the public REST API."""

from __future__ import annotations

import argparse
import sys

from jobyard_libs.serve import serve

from jobyard_api.app import create_app
from jobyard_api.settings import ApiSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobyard-api", description=__doc__)
    parser.add_argument("command", nargs="?", choices=["serve"], default="serve")
    parser.parse_args(argv)
    settings = ApiSettings()
    serve(create_app(settings), settings, service="api")
    return 0


if __name__ == "__main__":
    sys.exit(main())
