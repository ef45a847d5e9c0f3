from __future__ import annotations

from typing import Any, Literal

from jobyard_libs.schemas import ApiModel
from pydantic import Field


class CallbackIn(ApiModel):
    status: Literal["completed", "failed"]
    result: dict[str, Any] | None = None
    error: str | None = Field(None, max_length=2000)
