"""The table "Time per chapter" of the instructors' guide (book/instructors.md), computed:

- running time, measured: seconds per chapter from a JUnit report of an nbval run (``make nbval``
  writes none; ``tools/gpu_check.sh`` writes ``_build/gpu-check/nbval.xml``);
- reading time, estimated: the words of the chapter's prose (markdown outside the exercises and
  their model answers, display equations removed) at 150 words a minute, plus a minute per
  display equation and 3 seconds per line of code outside the exercises, rounded to 5 minutes;
- exercise time, estimated by kind (``KIND_MINUTES``), for the exercises recorded in
  ``diffusion_lite.checks.EXERCISES``.

    python tools/instructor_times.py _build/gpu-check/nbval.xml
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from gpu_check_summary import chapters as running_seconds

from diffusion_lite.checks import EXERCISES

ROOT = Path(__file__).resolve().parent.parent
KIND_MINUTES = {"transcription": 20, "loop": 30, "bug hunt": 30, "prediction": 20,
                "experiment": 30, "written-checkable": 20, "written": 15}
EXPERIMENT_MINUTES = 30          # a written exercise that asks for an experiment
_LABEL = re.compile(r"```\{exercise\}[^\n]*\n(?::[^\n]*\n)*?:label:\s*(\S+)")
_DISPLAY = re.compile(r"\$\$.*?\$\$(?:\s*\([^)\n]*\))?", re.DOTALL)


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _five(minutes: float) -> int:
    return max(5, int(5 * round(minutes / 5)))


def reading_minutes(cells: list[dict]) -> int:
    words = equations = code_lines = 0
    in_exercises = False
    for cell in cells:
        text = _source(cell)
        if cell["cell_type"] == "markdown" and text.lstrip().startswith("## Exercises"):
            in_exercises = True
        elif cell["cell_type"] == "markdown" and text.lstrip().startswith("## "):
            in_exercises = False
        if in_exercises or cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            continue
        if cell["cell_type"] == "markdown":
            equations += len(_DISPLAY.findall(text))
            words += len(_DISPLAY.sub(" ", text).split())
        else:
            code_lines += sum(1 for line in text.splitlines() if line.strip())
    return _five(words / 150 + equations + code_lines * 3 / 60)


def exercise_minutes(cells: list[dict]) -> int:
    total = 0
    for cell in cells:
        text = _source(cell)
        for label in _LABEL.findall(text):
            kind = EXERCISES[label].kind
            asks_experiment = kind == "written" and "experiment" in text.lower()
            total += EXPERIMENT_MINUTES if asks_experiment else KIND_MINUTES[kind]
    return total


def main(argv: list[str]) -> int:
    running = running_seconds(Path(argv[0])) if argv else {}
    print("| chapter | running, measured (s) | reading, estimated (min) | exercises, estimated "
          "(min) | student time, estimated (min) |")
    print("|---|---:|---:|---:|---:|")
    totals = [0.0, 0, 0]
    for path in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        title = _source(cells[0]).splitlines()[0].lstrip("# ").split(":")[0]
        seconds = running.get(path.name[:2], (0, 0, float("nan")))[2]
        reading, exercises = reading_minutes(cells), exercise_minutes(cells)
        totals = [totals[0] + seconds, totals[1] + reading, totals[2] + exercises]
        print(f"| {title} | {seconds:.0f} | {reading} | {exercises} | {reading + exercises} |")
    hours = (totals[1] + totals[2]) / 60
    print(f"| all | {totals[0]:.0f} | {totals[1]} | {totals[2]} | about {hours:.1f} hours |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
