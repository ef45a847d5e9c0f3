"""An attempt's journal stays small whatever the kind does: lines, line length, traceback."""

from __future__ import annotations

from jobyard_worker.tasks.journal import (
    MAX_LINE_CHARS,
    MAX_LINES,
    MAX_TRACEBACK_CHARS,
    AttemptLog,
    traceback_of,
)
from structlog.testing import capture_logs


def test_the_lines_kept_are_capped_in_number_and_length_and_say_what_was_dropped() -> None:
    journal = AttemptLog(execution_id="e1")
    for n in range(MAX_LINES + 7):
        journal.info("step", n=n, note="x" * (MAX_LINE_CHARS if n == 0 else 1))
    kept = journal.kept()
    assert len(kept) == MAX_LINES + 1 and kept[-1] == "… 7 more lines"
    assert len(kept[0]) == MAX_LINE_CHARS and kept[0].endswith("…")
    assert kept[1] == "info: step n=1 note=x"


def test_a_long_traceback_keeps_its_end_where_the_error_is() -> None:
    try:
        raise ValueError("x" * 2 * MAX_TRACEBACK_CHARS + " password=hunter2 at the bottom")
    except ValueError as exc:
        text = traceback_of(exc)
    assert len(text) == MAX_TRACEBACK_CHARS + 1 and text.startswith("…")
    assert text.endswith("x password=[redacted] at the bottom\n")


def test_a_secret_reaches_neither_the_attempt_nor_the_workers_own_log() -> None:
    journal = AttemptLog(execution_id="e1")
    with capture_logs() as logged:
        journal.info("calling", url="https://ann:hunter2@api.example/x?token=s3cr3t")
    assert journal.kept() == ["info: calling url=https://[redacted]@api.example/x?token=[redacted]"]
    assert logged[0]["url"] == "https://[redacted]@api.example/x?token=[redacted]"
