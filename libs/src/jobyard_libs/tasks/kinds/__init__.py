"""What a task may run: each kind's payload schema and who may submit it.

This is the contract the api validates submissions against; what a kind *does* lives in
the worker (``jobyard_worker.tasks.runners``), which has a runner for every kind listed
here (a test checks both lists agree).

Examples
--------
>>> KINDS["http"].payload.model_validate({"url": "https://example.com"}).method
'GET'
>>> KINDS["import-feeds"].allows(Role.USER)
False
>>> KINDS["sleep"].payload_problem({"seconds": -1})
('seconds', 'Input should be greater than or equal to 0')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from jobyard_libs.auth import Role
from jobyard_libs.tasks.kinds import export_jobs_csv, http, import_feeds, noop, sleep, webhook_callback

EVERYONE = frozenset(Role)
ADMINS = frozenset({Role.ADMIN})


@dataclass(frozen=True)
class KindSpec:
    name: str
    payload: type[BaseModel]
    description: str
    roles: frozenset[Role] = EVERYONE  # who may submit (and keep running) a task of this kind

    def allows(self, role: Role) -> bool:
        return role in self.roles

    def payload_problem(self, payload: Any) -> tuple[str, str] | None:
        """What is wrong with a payload for this kind, as (where in it, what), or ``None``."""
        try:
            self.payload.model_validate(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            return ".".join(str(part) for part in first["loc"]), str(first["msg"])
        return None


KINDS: dict[str, KindSpec] = {
    module.NAME: KindSpec(
        module.NAME, module.Payload, (module.__doc__ or "").strip().splitlines()[0], module.ROLES
    )
    for module in (noop, sleep, http, import_feeds, export_jobs_csv, webhook_callback)
}
