"""Password hashing (argon2id) and the password policy.

The policy follows NIST SP 800-63B: length over composition rules. A password must be
10 to 128 characters, not a well-known password, and not contain the email's local part.

Examples
--------
>>> policy_violation("correct horse battery", "ann@example.com") is None
True
>>> policy_violation("password123", "ann@example.com")
'password is too common'
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

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
