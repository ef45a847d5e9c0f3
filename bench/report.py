"""The table of ``bench/results.json``: every figure beside its same-run baseline and target.

python -m bench.report            # print it (Markdown)
python -m bench.report --readme   # and write it into docs/performance.md
"""

from __future__ import annotations

import argparse
import json
import statistics
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
        yield (
            f"Parse {parse['items']:,} items (items/s; peak RSS)",
            f"{ours['itemsPerSecond']:,.0f}; {ours['peakRssMb']:.0f} MB",
            f"bare iterparse {base['itemsPerSecond']:,.0f}",
            f"{parse['ratio']:.2f}×",
            "RSS < 200 MB",
            _met(ours["peakRssMb"] < 200),
        )
    for section in ("imports", "importsScale"):
        yield from _imports(results.get(section))
    cores = results.get("machine", {}).get("cpus")  # the machine the figures were measured on
    for section in ("tasks", "tasksScale"):
        yield from _tasks(results.get(section), cores)
    yield from _others(results)


def _imports(imports: dict[str, Any] | None) -> Iterator[Row]:
    if imports:
        for server, row in imports["servers"].items():
            ratio, speedup = row["ratioToRaw"], row["reimportSpeedup"]
            yield (
                f"Import {imports['items']:,}-item feed, created → last batch upserted, {server} (items/s)",
                f"{_spread(row['firstImportItemsPerSecond'])} (+ {row['commandStartSeconds']:.1f} s to start the command)",
                f"raw bulk_write {_spread(row['rawBulkWriteItemsPerSecond'])}",
                f"{ratio:.2f}×",
                "≥ 0.7×",
                _met(ratio >= 0.7),
            )
            if speedup is None:  # measured before the import lock (issue 26): not on secantusd-rs
                continue
            yield (
                f"Re-import, unchanged, {server} (items/s)",
                _spread(row["reimportItemsPerSecond"]),
                f"first import {row['firstImportItemsPerSecond']['median']:,.0f}",
                f"{speedup:.1f}×",
                "≥ 2×",
                _met(speedup >= 2),
            )


def _tasks(tasks: dict[str, Any] | None, cores: int | None) -> Iterator[Row]:
    if tasks:
        for server, row in tasks["servers"].items():
            yield (
                f"Tasks: {tasks['tasks']:,} noop via tasks:batch → completed, {server} (tasks/s)",
                _spread(row["jobyardTasksPerSecond"]),
                f"raw Dramatiq, prefetch {tasks['prefetch']}: {_spread(row['rawDramatiqMessagesPerSecond'])}",
                f"{row['ratio']:.3f}×",
                "≥ 0.5×",
                _met(row["ratio"] >= 0.5),
            )
            yield (
                f"Tasks against Celery + MongoDB result backend, {server} (tasks/s)",
                _spread(row["jobyardTasksPerSecond"]),
                f"Celery {_spread(row['celeryMongodbTasksPerSecond'])}",
                f"{row['ratioToCeleryMongodb']:.2f}×",
                "≥ 1.5×",
                _met(row["ratioToCeleryMongodb"] >= 1.5),
            )
            batch, single = row["roundTrips"]["batch"], row["roundTrips"]["single"]
            yield (
                f"MongoDB round trips per task, batches of 1,000, {server} (commands; documents written)",
                f"{batch['commandsPerTask']:.2f}; {batch['documentsWrittenPerTask']:.2f}",
                "—",
                "—",
                "≤ 1; ≤ 3",
                _met(batch["commandsPerTask"] <= 1 and batch["documentsWrittenPerTask"] <= 3),
            )
            yield (
                f"MongoDB round trips per task, single submits, {server} (commands; documents written)",
                f"{single['commandsPerTask']:.2f}; {single['documentsWrittenPerTask']:.2f}",
                "—",
                "—",
                "—",
                "—",
            )
            if claims := row.get("claimsInMongodb"):  # recorded since 2026-12
                before = claims["batch"]
                yield (
                    f"Claims in Redis, processing written past 250 ms, batches of 1,000, {server}"
                    " (tasks/s; worker CPU a task; documents written a task)",
                    f"{row['jobyardTasksPerSecond']['median']:,.0f}; {batch['workerCpuMsPerTask']:.2f} ms;"
                    f" {batch['documentsWrittenPerTask']:.2f}",
                    f"every attempt claimed in MongoDB: {claims['tasksPerSecond']['median']:,.0f};"
                    f" {before['workerCpuMsPerTask']:.2f} ms; {before['documentsWrittenPerTask']:.2f}",
                    f"{batch['workerCpuMsPerTask'] / before['workerCpuMsPerTask']:.2f}× CPU",
                    "less CPU",
                    _met(batch["workerCpuMsPerTask"] < before["workerCpuMsPerTask"]),
                )
            if cpu := row.get("cpuMsPerTask"):  # recorded since 2026-12-02
                ours, raw, celery = cpu["jobyard"], cpu["rawDramatiq"], cpu["celeryMongodb"]
                ceiling = f"; {cores * 1000 / ours['machine']:,.0f}" if cores else ""
                yield (
                    f"CPU a task, whole machine (workers' share), batches of 1,000, {server} (ms);"
                    f" the ceiling that puts on its {cores or '?'} cores (tasks/s)",
                    f"{ours['machine']:.2f} ({ours['workers']:.2f}){ceiling}",
                    f"raw Dramatiq {raw['machine']:.2f} ({raw['workers']:.2f});"
                    f" Celery + MongoDB {celery['machine']:.2f} ({celery['workers']:.2f})",
                    f"{ours['machine'] / celery['machine']:.2f}× Celery's",
                    "—",
                    "—",
                )
            for lat in row.get("latency", []):
                yield (
                    f"Latency submit → completed at {lat['ratePerSecond']:.0f}/s, {server} (p50; p99)",
                    f"{lat['p50Ms']:,.0f} ms; {lat['p99Ms']:,.0f} ms",
                    "—",
                    "—",
                    "p99 < 100 ms",
                    _met(lat["p99Ms"] < 100),
                )


def _others(results: dict[str, Any]) -> Iterator[Row]:
    if api := results.get("api"):
        for server, row in api["servers"].items():
            for size, times in row["pages"].items():
                offset = (
                    f"; item 10,000 by offset {times['offsetDeepMs']:,.0f} ms"
                    if times["offsetDeepMs"]
                    else ""
                )
                yield (
                    f"GET /api/v1/jobs alone, {int(size):,} jobs stored, {server}"
                    " (first page; 1,000 deep by cursor; by offset)",
                    f"{times['firstMs']:,.0f} ms; {times['cursorDeepMs']:,.0f} ms{offset}",
                    "—",
                    "—",
                    "—",
                    "—",
                )
            ready = row["routes"]["readyz"]
            for name in ("imports", "jobs"):
                route = row["routes"][name]
                p99 = (
                    f"{route['p99Ms']:,.0f} ms"
                    if route["p99Ms"] is not None
                    else f"none done in {api['seconds']:.0f} s"
                )
                yield (
                    f"GET /api/v1/{name}, page of {api['page']}, {api['storedJobs']:,} jobs stored,"
                    f" {api['connections']} connections, {server} (req/s; p99; one request alone)",
                    f"{route['requestsPerSecond']:,.1f}; {p99}; {route['aloneMs']:,.0f} ms",
                    f"GET /readyz {ready['requestsPerSecond']:,.0f} req/s",
                    f"{route['requestsPerSecond'] / ready['requestsPerSecond']:.4f}×",
                    "—",
                    "—",
                )
    if peers := results.get("peers"):
        rates = peers["messagesPerSecond"]
        for name in ("celery", "rq"):
            yield (
                f"Peer: {name}, {peers['messages']:,} noop send → drain (msgs/s)",
                _spread(rates[name]),
                f"raw Dramatiq {_spread(rates['dramatiq'])}",
                f"{peers['ratioToRawDramatiq'][name]:.2f}×",
                "—",
                "—",
            )
    if operator := results.get("operatorReaction"):
        for interval, row in operator["byInterval"].items():
            yield (
                f"Operator: backlog → scale patched, {interval} s polling (median; max)",
                f"{row['medianSeconds']:.2f} s; {row['maxSeconds']:.2f} s",
                "—",
                "—",
                f"≤ {row['boundSeconds']} s",
                _met(row["met"]),
            )
    if console := results.get("console"):
        slowest = max(console["pagesMs"], key=console["pagesMs"].get)
        worst = console["pagesMs"][slowest]
        yield (
            f"Console server time per page, {len(console['pagesMs'])} pages, make run's data (slowest: {slowest})",
            f"{worst:,.0f} ms (median of the pages {statistics.median(console['pagesMs'].values()):,.0f} ms)",
            f"/healthz {console['healthzMs']:,.1f} ms",
            "—",
            f"< {console['targetMs']} ms",
            _met(worst < console["targetMs"]),
        )
        if loaded := console.get("loadedPagesMs"):
            slowest = max(loaded, key=loaded.get)
            over = [page for page, ms in loaded.items() if ms >= console["targetMs"]]
            yield (
                f"Console server time per page, {len(loaded)} pages, {console['executionsStored']:,} more "
                f"executions stored, rust (slowest: {slowest}; over target: {', '.join(over) or 'none'})",
                f"{loaded[slowest]:,.0f} ms (median of the pages {statistics.median(loaded.values()):,.0f} ms)",
                f"/healthz {console['healthzMs']:,.1f} ms",
                "—",
                f"< {console['targetMs']} ms",
                _met(not over),
            )
    if retention := results.get("retention"):
        for server, row in retention["servers"].items():
            bounded = max(row["maxExecutions"], row["maxTasks"]) <= row["ceiling"]
            yield (
                f"Sustained {retention['rate']}/s noop tasks for {retention['seconds']:.0f} s, completed kept "
                f"{retention['keepSeconds']} s, {server} (most executions; tasks stored, second half; slope)",
                f"{row['maxExecutions']:,}; {row['maxTasks']:,}; {row['executionsSlopePerSecond']:+.1f}/s",
                f"without retention: {row['submitted']:,}; +{retention['rate']}/s",
                f"{row['maxExecutions'] / row['submitted']:.2f}×",
                f"≤ {row['ceiling']:,} (rate × kept + sweep + lag)",
                _met(bounded),
            )
    yield from _workflows(results.get("workflows"))
    if monitor := results.get("monitorScrape"):
        yield (
            f"Monitor refresh, {monitor['stored']['executions']:,} executions stored",
            f"{monitor['refreshSeconds'] * 1000:,.0f} ms",
            f"full count {monitor['baselineFullCountSeconds'] * 1000:,.0f} ms",
            f"{monitor['refreshVsFullCount']:.3f}×",
            "—",
            "—",
        )


def _workflows(workflows: dict[str, Any] | None) -> Iterator[Row]:
    if not workflows:
        return
    growth_target = workflows["targetCommandsPerRunGrowth"]
    for server, row in workflows["servers"].items():
        fan, chain = row["fanOut"], row["chain"]
        widths = sorted(fan["commandsPerRun"], key=int)
        yield (
            f"Workflow fan-out of {fan['width']:,} noop runs, request → completed, {server} (s)",
            f"{fan['workflowSeconds']['median']:.2f} ({fan['overheadMsPerRun']:+.2f} ms a run)",
            f"the same tasks alone {fan['tasksAloneSeconds']['median']:.2f}",
            f"{fan['workflowSeconds']['median'] / fan['tasksAloneSeconds']['median']:.2f}×",
            "—",
            "—",
        )
        yield (
            f"Workflow fan-out, MongoDB commands a run at {int(widths[0]):,} and {int(widths[-1]):,} runs, {server}",
            f"{fan['commandsPerRun'][widths[0]]:.1f}; {fan['commandsPerRun'][widths[-1]]:.1f}",
            "linear: the same a run",
            f"{fan['commandsPerRunGrowth']:.2f}×",
            f"≤ {growth_target}×",
            _met(fan["commandsPerRunGrowth"] <= growth_target),
        )
        yield (
            f"Workflow chain of {chain['steps']} noop steps, {server} (ms a step)",
            f"{chain['msPerStep']:.1f} ({chain['overheadMsPerStep']:+.1f})",
            f"submitted one after another {chain['oneAfterAnotherMsPerStep']:.1f}",
            f"{chain['msPerStep'] / chain['oneAfterAnotherMsPerStep']:.2f}×",
            "—",
            "—",
        )


def table(results: dict[str, Any]) -> str:
    machine = results.get("machine", {})
    lines = [
        f"Measured on {machine.get('cpus', '?')} × {machine.get('cpuModel', '?')},"
        f" {machine.get('memoryGb', '?')} GB, Python {machine.get('python', '?')}, {machine.get('system', '?')};"
        " SecantusDB's servers (python: secantusd-py; rust: secantusd-rs) in their own process, Redis from"
        " Debian."
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
