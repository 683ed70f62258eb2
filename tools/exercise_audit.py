"""Run every coding exercise of the chapters three ways and report what the checkers say:

- the chapter's own solution must pass its checker;
- the unanswered stub of the students' copy (``raise NotImplementedError``) must fail with the
  hint that the exercise is not answered yet;
- each typical wrong answer recorded beside the checker (``Exercise.mistakes`` in
  ``diffusion_lite/checks``) must fail, and its message should name that mistake.

It also counts the exercises of each chapter by kind, and finds any function that a chapter
shows (``show_source``) before the checker of the exercise that asks for it.

    python tools/exercise_audit.py [notebooks/NN_*.ipynb ...]

Exit status 1 if a solution fails, a stub or a wrong answer passes, or a chapter and the
record of its exercises disagree.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from diffusion_lite import checks
from diffusion_lite.checks import EXERCISES, ExerciseError
from diffusion_lite.checks._common import KINDS, NOT_IMPLEMENTED
from diffusion_lite.student import strip_solutions

ROOT = Path(__file__).resolve().parent.parent
# Messages that say something is wrong without saying what: a wrong answer that gets one of
# these is counted as not named.
GENERIC = ("largest difference", "term by term", "Check the shapes and types of what you return")
_LABEL = re.compile(r"```\{exercise\}[^\n]*\n(?::[^\n]*\n)*?:label:\s*(\S+)")
_IMPORT = re.compile(r"^(?:import|from)\s.*(?:\n[ \t]+.*)*", re.MULTILINE)


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _grade_id(cell: dict) -> str:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")


@dataclass
class Outcome:
    """What the checker said to one answer: ``passed``, or the ExerciseError's message."""
    passed: bool
    message: str = ""


@dataclass
class ExerciseReport:
    chapter: str
    label: str
    kind: str
    solution: Outcome | None = None          # None: a written exercise, nothing to run
    stub: Outcome | None = None
    mistakes: list[tuple[str, Outcome]] = field(default_factory=list)   # (names, outcome)
    shown_before: list[str] = field(default_factory=list)

    def named(self, names: str, outcome: Outcome) -> bool:
        return (not outcome.passed and re.search(names, outcome.message) is not None
                and not any(g in outcome.message for g in GENERIC))

    def problems(self) -> list[str]:
        where = f"{self.chapter} {self.label}"
        found = []
        if self.solution is not None and not self.solution.passed:
            found.append(f"{where}: the chapter's solution fails: {self.solution.message}")
        if self.stub is not None and (self.stub.passed or NOT_IMPLEMENTED not in self.stub.message):
            found.append(f"{where}: the unanswered stub is not reported as unanswered: "
                         f"{self.stub.message or 'it passed'}")
        for names, outcome in self.mistakes:
            if outcome.passed:
                found.append(f"{where}: a wrong answer passed (it should be named by {names!r})")
        for name in self.shown_before:
            found.append(f"{where}: the chapter shows {name} before the exercise's checker runs")
        return found


def _imports(notebook: dict) -> str:
    """The import statements of the chapter's setup cell (its first code cell)."""
    first = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    return "\n".join(_IMPORT.findall(_source(first)))


def _run(imports: str, setup: str, answer: str, check: str) -> Outcome:
    """Run the student's cell ``answer`` and then the checker cell ``check`` in a fresh namespace
    that holds the chapter's imports and the exercise's ``setup``."""
    namespace: dict = {"__name__": "__exercise__"}
    with contextlib.redirect_stdout(io.StringIO()):          # what the cells print is not asked
        exec(compile(imports + "\n" + setup, "<setup>", "exec"), namespace)
        try:
            exec(compile(answer, "<answer>", "exec"), namespace)
        except NotImplementedError:   # the stub of an answer that sets a variable stops its cell
            pass
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        try:
            exec(compile(check, "<check>", "exec"), namespace)
        except ExerciseError as error:
            return Outcome(False, str(error))
    return Outcome("✅" in printed.getvalue(), printed.getvalue().strip())


def _shown_before(cells: list[dict], check_index: int, reference: str) -> list[str]:
    if not reference:
        return []
    name = reference.rsplit(".", 1)[-1]
    pattern = re.compile(rf"(show_source|getsource)\([^)]*\b{re.escape(name)}\b")
    return [f"{reference} (cell {i})" for i, c in enumerate(cells[:check_index])
            if c["cell_type"] == "code" and pattern.search(_source(c))]


def _unguarded(chapter: str, label: str, reference: str, checker_cell: str) -> list[str]:
    """A checker that would pass a student's function calling the package's answer: its
    ``forbid`` must name the exercise's ``reference``."""
    if not reference:
        return []
    name = reference.rsplit(".", 1)[-1]
    used = [getattr(checks, c) for c in re.findall(r"\b(check_\w+)\(", checker_cell)
            if hasattr(checks, c)]
    if any(name in getattr(c, "forbid", ()) for c in used):
        return []
    return [f"{chapter} {label}: its checker does not refuse a function that calls {name}, the "
            "answer (add it to the checker's forbid)"]


def audit_chapter(path: Path) -> tuple[list[ExerciseReport], list[str]]:
    """The report of each exercise in the chapter at ``path``, and the disagreements between
    the chapter and the record of its exercises."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells, chapter = notebook["cells"], path.name[:2]
    imports = _imports(notebook)
    by_id = {_grade_id(c): i for i, c in enumerate(cells)}
    labels = [lab for c in cells if c["cell_type"] == "markdown" for lab in _LABEL.findall(_source(c))]
    reports, problems = [], []
    for label in labels:
        exercise = EXERCISES.get(label)
        if exercise is None:
            problems.append(f"{chapter} {label}: no record in diffusion_lite.checks (EXERCISES)")
            continue
        report = ExerciseReport(chapter, label, exercise.kind)
        code, check = by_id.get(f"{label}-code"), by_id.get(f"{label}-check")
        if (code is None) != (check is None):
            problems.append(f"{chapter} {label}: a solution cell without its checker, or the reverse")
        if code is not None and check is not None:
            answer, checker_cell = _source(cells[code]), _source(cells[check])
            report.solution = _run(imports, exercise.setup, answer, checker_cell)
            report.stub = _run(imports, exercise.setup, strip_solutions(answer), checker_cell)
            report.mistakes = [(m.names, _run(imports, exercise.setup, m.code, checker_cell))
                               for m in exercise.mistakes]
            report.shown_before = _shown_before(cells, check, exercise.reference)
            problems += _unguarded(chapter, label, exercise.reference, checker_cell)
        elif exercise.mistakes:
            problems.append(f"{chapter} {label}: wrong answers recorded for an exercise with no "
                            "checker")
        reports.append(report)
    return reports, problems


def audit(paths: list[Path]) -> tuple[list[ExerciseReport], list[str]]:
    reports, problems = [], []
    for path in paths:
        r, p = audit_chapter(path)
        reports += r
        problems += p + [q for report in r for q in report.problems()]
    if len(paths) > 1:     # a record with no exercise in any chapter
        seen = {r.label for r in reports}
        problems += [f"{label}: recorded in diffusion_lite.checks but in no chapter"
                     for label in EXERCISES if label not in seen]
    return reports, problems


def named_share(reports: list[ExerciseReport]) -> tuple[int, int]:
    """(wrong answers whose message names the mistake, wrong answers tried)."""
    tried = [(r, names, o) for r in reports for names, o in r.mistakes]
    return sum(r.named(names, o) for r, names, o in tried), len(tried)


def print_report(reports: list[ExerciseReport], problems: list[str], verbose: bool) -> None:
    kinds = [k for k in KINDS if any(r.kind == k for r in reports)]
    print("chapter  " + "  ".join(f"{k:>{len(k)}}" for k in kinds) + "   named")
    for chapter in sorted({r.chapter for r in reports}):
        mine = [r for r in reports if r.chapter == chapter]
        count = Counter(r.kind for r in mine)
        named, tried = named_share(mine)
        print(f"{chapter:>7}  " + "  ".join(f"{count.get(k, 0):>{len(k)}}" for k in kinds)
              + f"   {named}/{tried}")
    named, tried = named_share(reports)
    total = Counter(r.kind for r in reports)
    print("    all  " + "  ".join(f"{total.get(k, 0):>{len(k)}}" for k in kinds)
          + f"   {named}/{tried}")
    share = named / tried if tried else float("nan")
    print(f"\n{len(reports)} exercises; typical wrong answers named: {named} of {tried} "
          f"({share:.0%})")
    for r in reports:
        for names, outcome in r.mistakes:
            if verbose or not r.named(names, outcome):
                mark = "named" if r.named(names, outcome) else "NOT NAMED"
                print(f"  {r.chapter} {r.label} [{mark}] expected /{names}/: "
                      f"{outcome.message[:160] if not outcome.passed else 'it passed'}")
    for problem in problems:
        print(f"PROBLEM {problem}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("notebooks", nargs="*", type=Path,
                        default=sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")))
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print every wrong answer's message, named or not")
    args = parser.parse_args(argv)
    reports, problems = audit(args.notebooks)
    print_report(reports, problems, args.verbose)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
