"""The summary of a GPU check (``tools/gpu_check.sh``): the environment, pass or fail and seconds
per chapter (from nbval's JUnit report), the MNIST run and the benchmark table, as Markdown.

    python tools/gpu_check_summary.py OUT SECONDS
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path


def chapters(report: Path) -> dict[str, tuple[int, int, float]]:
    """Per chapter: (cells passed, cells failed or in error, seconds), from a JUnit XML file."""
    totals: dict[str, list] = defaultdict(lambda: [0, 0, 0.0])
    for case in ET.parse(report).getroot().iter("testcase"):
        where = f"{case.get('file') or ''} {case.get('classname') or ''}"
        found = re.search(r"(?:^|[\s./])(\d\d)_\w+\.ipynb", where)
        chapter = found.group(1) if found else "?"
        failed = any(child.tag in ("failure", "error") for child in case)
        totals[chapter][1 if failed else 0] += 1
        totals[chapter][2] += float(case.get("time") or 0)
    return {k: tuple(v) for k, v in sorted(totals.items())}


def main(argv: list[str]) -> int:
    out, seconds = Path(argv[0]), int(argv[1])
    lines = ["# GPU check", "", *(f"- {line}" for line in
                                  (out / "environment.txt").read_text().splitlines()), ""]
    report = out / "nbval.xml"
    ok = report.exists()
    lines += ["## Chapters under nbval", "", "| chapter | result | cells | seconds |",
              "|---|---|---:|---:|"]
    if ok:
        for chapter, (passed, failed, secs) in chapters(report).items():
            ok &= failed == 0
            lines.append(f"| {chapter} | {'pass' if not failed else 'FAIL'} | "
                         f"{passed + failed} | {secs:.0f} |")
    else:
        lines.append("| — | no report: nbval did not run | | |")
    mnist = (out / "mnist.log").read_text().strip().splitlines() if (out / "mnist.log").exists() else []
    lines += ["", "## Chapter 5's MNIST cell, fake data", "", mnist[-1] if mnist else "did not run",
              "", "## Benchmark", "", (out / "benchmark.md").read_text().strip()
              if (out / "benchmark.md").exists() else "did not run",
              "", "## Sampler steps and the host", "", (out / "syncs.md").read_text().strip()
              if (out / "syncs.md").exists() else "did not run",
              "", f"Total: {seconds} s."]
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
