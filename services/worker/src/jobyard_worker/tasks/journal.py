"""What an attempt leaves for the person debugging it: the lines its kind logged, and the
traceback of the exception that failed it, each capped and with secrets redacted.

Both are stored with the attempt in the execution's history (no extra write: they go with
the attempt's end) and shown by the api and the console; while the attempt runs, its new
lines are passed on every cancel poll (:mod:`jobyard_libs.tasks.live_logs`). A kind logs through
``context.log`` (an :class:`AttemptLog`): each line also goes to the worker's own log.

>>> redact('GET https://ann:hunter2@api.example/x?token=abc123 Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2ln')
'GET https://[redacted]@api.example/x?token=[redacted] Authorization: Bearer [redacted]'
>>> redact('{"password": "pw", "apiKey": "jy_live_0123456789abcdef0123"}')
'{"password": "[redacted]", "apiKey": "[redacted]"}'
"""

from __future__ import annotations

import re
import traceback
from typing import Any

import structlog

log = structlog.get_logger("jobyard_worker.tasks.kind")
MAX_LINES = 50
MAX_LINE_CHARS = 300
MAX_TRACEBACK_CHARS = 8000
SECRETS = [
    (re.compile(r"(://)[^/\s:@]+:[^/\s@]+@"), r"\1[redacted]@"),  # credentials in a URL
    (re.compile(r"(?i)\bbearer\s+[\w.~+/=-]+"), "Bearer [redacted]"),
    (re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]+"), "[redacted]"),  # a JWT
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]+"), "[redacted]"),
    (
        re.compile(
            r"(?i)((?:authorization|api[_-]?key|x-api-key|token|secret|password|passwd|signature)"
            r"[\"']?\s*[:=]\s*[\"']?)(?!Bearer \[redacted\])([^\s\"',;&]+)"
        ),
        r"\1[redacted]",
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in SECRETS:
        text = pattern.sub(replacement, text)
    return text


def traceback_of(exc: BaseException) -> str:
    """The exception's traceback, redacted, its last :data:`MAX_TRACEBACK_CHARS` (the frames
    nearest the error)."""
    text = redact("".join(traceback.format_exception(exc)))
    return text if len(text) <= MAX_TRACEBACK_CHARS else "…" + text[-MAX_TRACEBACK_CHARS:]


class AttemptLog:
    """The lines one attempt's kind logged, :data:`MAX_LINES` at most."""

    def __init__(self, **context: Any) -> None:
        self.lines: list[str] = []
        self.dropped = 0
        self.shown = 0  # lines already passed on to the live view
        self._log = log.bind(**context)

    def info(self, event: str, **fields: Any) -> None:
        self._add("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._add("warning", event, fields)

    def _add(self, level: str, event: str, fields: dict[str, Any]) -> None:
        shown = {key: redact(str(value)) for key, value in fields.items()}
        getattr(self._log, level)(event, **shown)  # the worker's own log gets no secret either
        if len(self.lines) >= MAX_LINES:
            self.dropped += 1
            return
        words = " ".join([event, *(f"{key}={value}" for key, value in shown.items())])
        line = f"{level}: {words}"
        self.lines.append(line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…")

    def unshown(self) -> list[str]:
        """The lines logged since the last call (what the live view has not seen yet)."""
        new, self.shown = self.lines[self.shown :], len(self.lines)
        return new

    def kept(self) -> list[str]:
        """The lines to store, and how many more there were."""
        return [*self.lines, f"… {self.dropped} more lines"] if self.dropped else list(self.lines)
