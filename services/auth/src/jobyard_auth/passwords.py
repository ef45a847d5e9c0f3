"""Password hashing (argon2id) and the password policy.

The policy follows NIST SP 800-63B: length over composition rules. A password must be
10 to 128 characters, not a well-known password, and not contain the email's local part.

Hashing costs tens of milliseconds of CPU and 64 MiB: :class:`PasswordWork` runs it off the
event loop, at most ``concurrency`` at a time with at most ``backlog`` waiting; beyond that
a request gets 503 with ``Retry-After`` instead of stalling every other request.

Examples
--------
>>> policy_violation("correct horse battery", "ann@example.com") is None
True
>>> policy_violation("password123", "ann@example.com")
'password is too common'
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from jobyard_libs.errors import ServiceUnavailable

T = TypeVar("T")

MIN_LENGTH = 10
MAX_LENGTH = 128
COMMON = frozenset(
    {
        "password", "password1", "password12", "password123", "passw0rd", "123456789",
        "1234567890", "qwertyuiop", "iloveyou", "letmein123", "welcome123", "administrator",
        "changeme123", "qwerty1234", "1q2w3e4r5t", "abcdefghij", "0123456789", "jobyard123",
    }
)  # fmt: skip

_hasher = PasswordHasher()
# A hash of nothing in particular, so that a login for an unknown email costs as much
# time as one for a known email (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash("jobyard-dummy-password")


def policy_violation(password: str, email: str) -> str | None:
    if len(password) < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password must be at most {MAX_LENGTH} characters"
    if password.lower() in COMMON or len(set(password)) < 4:
        return "password is too common"
    local = email.split("@", 1)[0].lower()
    if len(local) >= 4 and local in password.lower():
        return "password must not contain your email address"
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class PasswordWork:
    """argon2 hashing and verification in threads, bounded."""

    def __init__(self, *, concurrency: int = 2, backlog: int = 64) -> None:
        self._gate = asyncio.Semaphore(concurrency)
        self._limit = concurrency + backlog
        self._admitted = 0

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        if self._admitted >= self._limit:
            raise ServiceUnavailable("too many sign-ins at once; try again", headers={"Retry-After": "1"})
        self._admitted += 1
        try:
            async with self._gate:
                return await asyncio.to_thread(fn, *args)
        finally:
            self._admitted -= 1

    async def hash(self, password: str) -> str:
        return await self._run(hash_password, password)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        return await self._run(verify_password, password, password_hash)
