"""Benchmark: parsing a 100,000-item WP Job Manager feed (items/s, peak RSS).

Each measurement runs in a fresh process so that its peak RSS is its own. The baseline,
measured in the same run on the same file, is the bare stdlib ``iterparse`` loop with
no mapping and no prolog check: the ratio says what Jobyard's safety and field mapping cost.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.results import record
from tests.support.feed_factory import write_feed

ITEMS = 100_000
REPEATS = 3
RSS_TARGET_MB = 200

JOBYARD = """
import resource, sys, time
from jobyard_libs.feeds.parser import iter_feed
start = time.perf_counter()
with open(sys.argv[1], "rb") as f:
    n = sum(1 for _ in iter_feed(f, "https://jobs.example/feed"))
print(n, time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
BASELINE = """
import resource, sys, time
import xml.etree.ElementTree as ET
start = time.perf_counter()
n = 0
for _, element in ET.iterparse(sys.argv[1]):
    if element.tag == "item":
        n += 1
        element.clear()
print(n, time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def measure(code: str, path: Path) -> tuple[float, float]:
    """(items per second, peak RSS in MB) of one run in a fresh process."""
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    items, seconds, peak_kb = out.stdout.split()
    assert int(items) == ITEMS, out.stdout
    return int(items) / float(seconds), int(peak_kb) / 1024


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "feed.xml"
        with path.open("wb") as out:
            size = write_feed(out, ITEMS)
        results: dict[str, Any] = {"items": ITEMS, "feedBytes": size}
        for name, code in (("baseline", BASELINE), ("jobyard", JOBYARD)):
            runs = [measure(code, path) for _ in range(REPEATS)]
            rates = [r for r, _ in runs]
            results[name] = {
                "itemsPerSecond": statistics.median(rates),
                "spread": [min(rates), max(rates)],
                "peakRssMb": max(m for _, m in runs),
            }
    results["ratio"] = results["jobyard"]["itemsPerSecond"] / results["baseline"]["itemsPerSecond"]
    return results


def main() -> int:
    started = time.time()
    results = run()
    record("parse", results)
    j, b = results["jobyard"], results["baseline"]
    rows = [
        (
            "parse, baseline (bare iterparse)",
            f"{b['itemsPerSecond']:,.0f} items/s",
            f"{b['peakRssMb']:.0f} MB",
            "",
        ),
        (
            "parse, jobyard (safe, mapped)",
            f"{j['itemsPerSecond']:,.0f} items/s",
            f"{j['peakRssMb']:.0f} MB",
            f"{results['ratio']:.2f}x",
        ),
    ]
    sys.stdout.write(f"feed: {ITEMS:,} items, {results['feedBytes'] / 1e6:.0f} MB; median of {REPEATS}\n")
    for row in rows:
        sys.stdout.write(f"  {row[0]:<36} {row[1]:>18} {row[2]:>8} {row[3]:>7}\n")
    ok = j["peakRssMb"] < RSS_TARGET_MB
    sys.stdout.write(
        f"peak RSS target < {RSS_TARGET_MB} MB: {'met' if ok else 'MISSED'} ({time.time() - started:.0f} s)\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
