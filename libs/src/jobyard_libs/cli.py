"""What every command does with a bad setting: one line naming it, exit code 2, no traceback.

Usage
-----

::

    settings = load_settings(ApiSettings, "jobyard-api")
    # → jobyard-api: JOBYARD_PORT: Input should be a valid integer, unable to parse string as an integer
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

S = TypeVar("S", bound=BaseSettings)


def settings_errors(cls: type[BaseSettings], error: ValidationError) -> list[str]:
    """Each problem as ``JOBYARD_NAME: reason`` (or the reason alone, when it names its setting)."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    lines = []
    for problem in error.errors():
        reason = str(problem.get("msg", "invalid")).removeprefix("Value error, ")
        where = [str(part) for part in problem.get("loc", ()) if isinstance(part, str)]
        lines.append(f"{prefix}{where[0].upper()}: {reason}" if where else reason)
    return lines


def fail(program: str, message: str) -> NoReturn:
    sys.stderr.write(f"{program}: {message}\n")
    raise SystemExit(2)


def load_settings(cls: type[S], program: str, **overrides: Any) -> S:
    """``cls()`` from the environment, or a one-line error naming the bad setting and exit 2."""
    try:
        return cls(**overrides)
    except ValidationError as error:
        fail(program, "; ".join(settings_errors(cls, error)))
