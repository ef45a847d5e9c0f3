"""docs/performance.md's table is what ``bench/results.json`` says (``python -m bench.report --readme``)."""

from __future__ import annotations

import json

from bench.report import END, PAGE, START, rows, table
from bench.results import RESULTS


def test_the_readme_table_is_the_committed_results() -> None:
    results = json.loads(RESULTS.read_text())
    readme = PAGE.read_text()
    section = readme.split(START, 1)[1].split(END, 1)[0]
    assert section.strip() == table(results).strip(), "run: python -m bench.report --readme"


def test_every_benchmark_in_the_results_has_its_rows() -> None:
    results = json.loads(RESULTS.read_text())
    figures = " ".join(row[0] for row in rows(results))
    for section, words in {
        "parse": "Parse",
        "imports": "Re-import",
        "tasks": "Latency",
        "api": "GET /api/v1/jobs",
        "peers": "Peer: rq",
        "operatorReaction": "Operator",
        "monitorScrape": "Monitor refresh",
    }.items():
        assert section in results, f"bench/results.json has no {section} section: run make bench"
        assert words in figures
