from __future__ import annotations

from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from jobyard_libs.auth import Role
from jobyard_libs.schemas import ApiModel
from pydantic import AfterValidator, Field


def _normalized_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc


Email = Annotated[str, Field(max_length=254), AfterValidator(_normalized_email)]


class RegisterIn(ApiModel):
    email: Email
    password: str = Field(max_length=1024)
    name: str = Field(min_length=1, max_length=200)


class UserPatch(ApiModel):
    role: Role | None = None
    active: bool | None = None
    sign_in_locked: Literal[False] | None = Field(None, description="false: unlock password sign-in")
