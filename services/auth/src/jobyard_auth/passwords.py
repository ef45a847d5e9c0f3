"""Password hashing (argon2id) and the password policy.

The policy follows NIST SP 800-63B: length over composition rules. A password must be
10 to 128 characters, not contain the email's local part, and not be a common password:
not one of the 30,000 most common leaked passwords (``common-passwords.txt``, zxcvbn's list,
shipped: no network), in any case, nor one of them with digits or symbols added at its end
(``qwertyuiop1!``). ASVS V2.1.7.

Hashes are argon2id with argon2-cffi's current parameters; a hash made with older
parameters is upgraded when its owner next signs in (:func:`needs_rehash`).

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
import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from jobyard_libs.errors import ServiceUnavailable

T = TypeVar("T")

MIN_LENGTH = 10
MAX_LENGTH = 128
COMMON = frozenset(
    line
    for line in (Path(__file__).parent / "common-passwords.txt").read_text().splitlines()
    if line and not line.startswith("#")
) | {"jobyard123", "jobyard1234"}
SUFFIX = re.compile(r"[\d\W_]+$")

_hasher = PasswordHasher()
# A hash of nothing in particular, so that a login for an unknown email costs as much
# time as one for a known email (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash("jobyard-dummy-password")


def policy_violation(password: str, email: str) -> str | None:
    if len(password) < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password must be at most {MAX_LENGTH} characters"
    if is_common(password) or len(set(password)) < 4:
        return "password is too common"
    local = email.split("@", 1)[0].lower()
    if len(local) >= 4 and local in password.lower():
        return "password must not contain your email address"
    return None


def is_common(password: str) -> bool:
    lowered = password.lower()
    stem = SUFFIX.sub("", lowered)
    return lowered in COMMON or (len(stem) >= 6 and stem in COMMON)


def needs_rehash(password_hash: str) -> bool:
    """Made with other argon2 parameters than today's: hash the password again at sign-in."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


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
