from __future__ import annotations

from jobyard_libs.schemas import ApiModel
from pydantic import Field


class LoginIn(ApiModel):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class RefreshIn(ApiModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class GoogleIn(ApiModel):
    id_token: str = Field(min_length=1, max_length=8192)
    password: str | None = Field(
        None,
        max_length=1024,
        description="the existing account's password, to link Google to an account whose email was never verified",
    )


class GoogleLinkIn(ApiModel):
    id_token: str = Field(min_length=1, max_length=8192)
