"""The table of ``bench/results.json``: every figure beside its same-run baseline and target.

python -m bench.report            # print it (Markdown)
python -m bench.report --readme   # and write it into docs/performance.md
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.results import RESULTS

PAGE = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"
Row = tuple[str, str, str, str, str, str]


def _spread(figure: dict[str, Any]) -> str:
    """A figure from ``bench.results.summary``: its median and [min, max]."""
    low, high = figure["spread"]
    return f"{figure['median']:,.0f} [{low:,.0f}–{high:,.0f}]"


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def rows(results: dict[str, Any]) -> Iterator[Row]:
    if parse := results.get("parse"):
        ours, base = parse["jobyard"], parse["baseline"]
        yield (f"Parse {parse['items']:,} items (items/s; peak RSS)",
               f"{ours['itemsPerSecond']:,.0f}; {ours['peakRssMb']:.0f} MB",
               f"bare iterparse {base['itemsPerSecond']:,.0f}", f"{parse['ratio']:.2f}×", "RSS < 200 MB",
               _met(ours["peakRssMb"] < 200))  # fmt: skip
    if imports := results.get("imports"):
        ratio, speedup = imports["ratioToRaw"], imports["reimportSpeedup"]
        yield (f"Import {imports['items']:,}-item feed end to end (items/s)",
               _spread(imports["firstImportItemsPerSecond"]),
               f"raw bulk_write {_spread(imports['rawBulkWriteItemsPerSecond'])}", f"{ratio:.2f}×", "≥ 0.7×",
               _met(ratio >= 0.7))  # fmt: skip
        yield ("Re-import, unchanged (items/s)", _spread(imports["reimportItemsPerSecond"]),
               f"first import {imports['firstImportItemsPerSecond']['median']:,.0f}", f"{speedup:.1f}×", "≥ 2×",
               _met(speedup >= 2))  # fmt: skip
    if tasks := results.get("tasks"):
        yield (f"Tasks: {tasks['tasks']:,} noop via tasks:batch → completed (tasks/s)",
               _spread(tasks["jobyardTasksPerSecond"]),
               f"raw Dramatiq {_spread(tasks['rawDramatiqMessagesPerSecond'])}", f"{tasks['ratio']:.3f}×",
               "≥ 0.5×", _met(tasks["ratio"] >= 0.5))  # fmt: skip
        for row in tasks.get("latency", []):
            yield (f"Latency submit → completed at {row['ratePerSecond']:.0f}/s (p50; p99)",
                   f"{row['p50Ms']:,.0f} ms; {row['p99Ms']:,.0f} ms", "—", "—", "p99 < 100 ms",
                   _met(row["p99Ms"] < 100))  # fmt: skip
    if api := results.get("api"):
        ready = api["routes"]["readyz"]
        for name in ("imports", "jobs"):
            route = api["routes"][name]
            p99 = (
                f"{route['p99Ms']:,.0f} ms"
                if route["p99Ms"] is not None
                else f"none done in {api['seconds']:.0f} s"
            )
            yield (f"GET /api/v1/{name}, page of {api['page']}, {api['storedJobs']:,} jobs stored,"
                   f" {api['connections']} connections (req/s; p99; one request alone)",
                   f"{route['requestsPerSecond']:,.1f}; {p99}; {route['aloneMs']:,.0f} ms",
                   f"GET /readyz {ready['requestsPerSecond']:,.0f} req/s",
                   f"{route['requestsPerSecond'] / ready['requestsPerSecond']:.4f}×", "—", "—")  # fmt: skip
    if peers := results.get("peers"):
        rates = peers["messagesPerSecond"]
        for name in ("celery", "rq"):
            yield (f"Peer: {name}, {peers['messages']:,} noop send → drain (msgs/s)", _spread(rates[name]),
                   f"raw Dramatiq {_spread(rates['dramatiq'])}", f"{peers['ratioToRawDramatiq'][name]:.2f}×",
                   "—", "—")  # fmt: skip
    if operator := results.get("operatorReaction"):
        for interval, row in operator["byInterval"].items():
            yield (f"Operator: backlog → scale patched, {interval} s polling (median; max)",
                   f"{row['medianSeconds']:.2f} s; {row['maxSeconds']:.2f} s", "—", "—",
                   f"≤ {row['boundSeconds']} s", _met(row["met"]))  # fmt: skip
    if monitor := results.get("monitorScrape"):
        yield (f"Monitor refresh, {monitor['stored']['executions']:,} executions stored",
               f"{monitor['refreshSeconds'] * 1000:,.0f} ms",
               f"full count {monitor['baselineFullCountSeconds'] * 1000:,.0f} ms",
               f"{monitor['refreshVsFullCount']:.3f}×", "—", "—")  # fmt: skip


def table(results: dict[str, Any]) -> str:
    machine = results.get("machine", {})
    lines = [
        f"Measured on {machine.get('cpus', '?')} × {machine.get('cpuModel', '?')},"
        f" {machine.get('memoryGb', '?')} GB, Python {machine.get('python', '?')}, {machine.get('system', '?')};"
        " the embedded MongoDB-compatible server in its own process, Redis from Debian."
        " Medians over repeats, [min–max] where repeated.",
        "",
        "| Figure | Jobyard | Baseline, same run | Ratio | Target | |",
        "|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows(results)]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readme", action="store_true", help="write the table into docs/performance.md")
    text = table(json.loads(RESULTS.read_text()))
    sys.stdout.write(text)
    if parser.parse_args().readme:
        readme = PAGE.read_text()
        if START not in readme or END not in readme:
            sys.stderr.write(f"docs/performance.md has no {START} … {END} section\n")
            return 2
        before, rest = readme.split(START, 1)
        PAGE.write_text(before + START + "\n" + text + END + rest.split(END, 1)[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
