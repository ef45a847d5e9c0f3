"""Create the first admin from ``JOBYARD_ADMIN_EMAIL`` / ``JOBYARD_ADMIN_PASSWORD``.

Idempotent: an existing user with that email is made an active admin and keeps its
password. With no password set, one is generated; with ``password_file`` the generated
password is kept there (mode 0600) so that later runs can show it again.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from jobyard_libs.app import open_resources
from jobyard_libs.auth import Role
from jobyard_libs.queue.broker import create_broker

from jobyard_auth.settings import AuthSettings
from jobyard_auth.users.repository import INDEXES
from jobyard_auth.users.service import user_service


@dataclass(frozen=True)
class BootstrapResult:
    email: str
    created: bool
    password: str | None  # shown when generated (now, or earlier and kept in password_file)


def read_kept_password(password_file: Path | None) -> str | None:
    if password_file is None or not password_file.is_file():
        return None
    return password_file.read_text().strip() or None


def keep_password(password_file: Path, password: str) -> None:
    password_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(password + "\n")


async def bootstrap_admin(settings: AuthSettings, kept_password: str | None = None) -> BootstrapResult:
    """Returns the password to show: ``kept_password`` or a new one when none was configured."""
    broker = create_broker(settings)
    try:
        async with open_resources(settings, INDEXES) as resources:
            users = user_service(settings, resources, broker)
            configured = settings.admin_password.get_secret_value() if settings.admin_password else None
            existing = await users.by_email(settings.admin_email)
            if existing is not None:
                await users.ensure_admin(existing)
                return BootstrapResult(settings.admin_email, False, None if configured else kept_password)
            password = configured or kept_password or secrets.token_urlsafe(18)
            await users.register(
                email=settings.admin_email, password=password, name="Administrator", role=Role.ADMIN
            )
            return BootstrapResult(settings.admin_email, True, None if configured else password)
    finally:
        broker.close()
