"""What the auth service answers about people and their credentials: users, API keys and
token pairs, as it sends them and as the console (or any client in Python) reads them.

Usage
-----

::

    UserOut.model_validate(user)                        # auth, from a stored user
    TokenPair.model_validate(response.json()).access_token  # a reader
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from jobyard_libs.auth import KeyScope, Role
from jobyard_libs.documents import IdStr
from jobyard_libs.schemas import Reply


class UserOut(Reply):
    id: IdStr
    email: str
    name: str
    role: Role
    active: bool
    google_linked: bool
    has_password: bool
    sign_in_locked: bool = Field(
        description="too many consecutive failed sign-ins: the password alone no longer signs in until an "
        "admin unlocks it (sessions already held go on)"
    )
    created_at: datetime


class WorkChangeOut(Reply):
    """What the change did to the user's tasks and executions."""

    paused_tasks: int
    cancelled_executions: int
    resumed_tasks: int


class UserChanged(UserOut):
    work: WorkChangeOut = Field(
        description="deactivation pauses and cancels; reactivation resumes; a demotion "
        "pauses recurring tasks the new role may not run"
    )


class ApiKeyOut(Reply):
    id: IdStr
    name: str
    prefix: str
    user_id: IdStr
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    scopes: list[KeyScope] | None = Field(description="null: a key made before scopes (its owner's role)")


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret; shown this once and never again.")


class TokenPair(Reply):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int
    refresh_expires_in: int
