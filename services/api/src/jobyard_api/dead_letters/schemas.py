from __future__ import annotations

from datetime import datetime
from typing import Any

from jobyard_libs.documents import IdStr
from jobyard_libs.schemas import ApiModel


class DeadLetterOut(ApiModel):
    id: IdStr
    execution_id: IdStr
    task_id: IdStr
    kind: str
    queue: str
    payload: dict[str, Any]
    attempts: int
    error: str
    created_at: datetime
