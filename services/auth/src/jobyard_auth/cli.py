"""``jobyard-auth``: serve the API, create the first admin, or generate a signing key."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from jobyard_libs.cli import fail, load_settings
from jobyard_libs.errors import JobyardError
from jobyard_libs.logging import configure_logging
from jobyard_libs.serve import serve

from jobyard_auth.bootstrap import bootstrap_admin, keep_password, read_kept_password
from jobyard_auth.keystore import write_new_key
from jobyard_auth.settings import AuthSettings


def _serve(settings: AuthSettings) -> int:
    from jobyard_auth.app import create_app

    serve(create_app(settings), settings, service="auth")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobyard-auth", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the auth API (the default)")
    admin = commands.add_parser("bootstrap-admin", help="create the first admin (idempotent)")
    admin.add_argument("--password-file", type=Path, help="keep a generated password here")
    key = commands.add_parser("generate-key", help="write a new signing key (rotation)")
    key.add_argument("--dir", type=Path, help="default: JOBYARD_SIGNING_KEYS_DIR")
    key.add_argument("--kid", help="key id; default: the current UTC time, so it sorts last")
    key.add_argument("--algorithm", choices=["EdDSA", "RS256"], default="EdDSA")
    args = parser.parse_args(argv)

    settings = load_settings(AuthSettings, "jobyard-auth")
    if args.command in (None, "serve"):
        return _serve(settings)
    if args.command == "bootstrap-admin":
        configure_logging(service="auth", level="WARNING", fmt=settings.log_format.value)
        kept = read_kept_password(args.password_file)
        try:
            result = asyncio.run(bootstrap_admin(settings, kept))
        except JobyardError as refused:  # a password the policy refuses, say
            where = "JOBYARD_ADMIN_PASSWORD" if refused.field == "password" else "the first admin"
            fail("jobyard-auth", f"{where}: {refused.message}")
        if args.password_file is not None and result.password and result.password != kept:
            keep_password(args.password_file, result.password)
        sys.stdout.write(json.dumps(result.__dict__) + "\n")
        return 0
    path = write_new_key(args.dir or settings.signing_keys_dir, args.kid, algorithm=args.algorithm)
    sys.stdout.write(json.dumps({"kid": path.stem, "path": str(path)}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
