"""Every exercise as an assignment: the chapter's solution passes its checker, the unanswered
stub is reported as unanswered, the typical wrong answers recorded beside each checker fail
(at least 90% with a message that names the mistake), no chapter shows an answer before its
question, each chapter asks for more than transcription, and the students' copies keep no
solution text (tools/exercise_audit.py prints the full report)."""

import json
import re
import sys
from pathlib import Path

import pytest

from diffusion_lite.student import ANSWER_STUB, BEGIN, END, student_notebook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import exercise_audit  # noqa: E402

CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))


def _labels(path: Path) -> list[tuple[str, str]]:
    """(title, label) of each exercise of a chapter."""
    return [(title, label) for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]
            for title, label in re.findall(r"```\{exercise\}\s*([^\n]*)\n(?::[^\n]*\n)*?:label:\s*(\S+)",
                                           "".join(cell["source"]))]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name[:2])
def test_each_chapters_exercises_are_assignments(path):
    """Per chapter: solutions pass, stubs are reported as unanswered, recorded wrong answers fail
    (at least 90% named, at least three per coding exercise on average, two for each), no
    answer is shown before its checker, and one exercise at least asks for more than
    transcription."""
    reports, problems = exercise_audit.audit_chapter(path)
    problems += [q for r in reports for q in r.problems()]
    assert problems == []
    coding = [r for r in reports if r.solution is not None]
    assert coding, "expected the chapter's checked exercises to run"
    assert [r.label for r in coding if len(r.mistakes) < 2] == []
    named, tried = exercise_audit.named_share(reports)
    unnamed = [(r.label, names, o.message[:120]) for r in reports for names, o in r.mistakes
               if not r.named(names, o)]
    assert tried >= 3 * len(coding)
    assert named >= 0.9 * tried, unnamed
    assert [r.kind for r in reports if r.kind not in ("transcription", "written")] != []


def test_every_recorded_exercise_is_in_a_chapter():
    from diffusion_lite.checks import EXERCISES
    in_chapters = {label for path in CHAPTERS for _, label in _labels(path)}
    assert sorted(set(EXERCISES) - in_chapters) == []
    assert sorted(in_chapters - set(EXERCISES)) == []


def _solution_lines(text: str) -> list[str]:
    """The lines of code between the solution markers, long enough to be telling."""
    lines = []
    for block in re.findall(rf"{BEGIN}[^\n]*\n(.*?){END}", text, re.DOTALL):
        lines += [line.strip() for line in block.splitlines()
                  if len(line.strip()) >= 16 and not line.strip().startswith("#")]
    return lines


def _answer_lines(cell: dict) -> list[str]:
    """The lines of a model answer (an nbgrader answer cell), long enough to be telling."""
    text = "".join(cell["source"])
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if cell["cell_type"] != "markdown" or not meta.get("solution"):
        return []
    return [line.strip() for line in text.splitlines()
            if len(line.strip()) >= 24 and not line.strip().startswith("```")
            and not line.strip().startswith(":")]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name[:2])
def test_student_copies_keep_no_solution_text(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    secrets = [line for cell in notebook["cells"] for line in
               (_solution_lines("".join(cell["source"])) if cell["cell_type"] == "code"
                else _answer_lines(cell))]
    assert secrets, "expected the chapter to have solutions"
    copy = student_notebook(notebook)
    text = "\n".join("".join(c["source"]) for c in copy["cells"])
    assert ANSWER_STUB in text
    assert [s for s in secrets if s in text] == []


def test_the_instructors_guide_lists_every_exercise_with_its_kind_and_the_counts():
    """book/instructors.md: a table row per exercise, and the counts of its first paragraph."""
    from collections import Counter

    from diffusion_lite.checks import EXERCISES
    guide = (ROOT / "book" / "instructors.md").read_text(encoding="utf-8")
    titles = [title for path in CHAPTERS for title, _ in _labels(path)]
    assert [t for t in titles if f"| {t} |" not in guide] == []
    kinds = Counter(exercise.kind for exercise in EXERCISES.values())
    total, checked = len(EXERCISES), len(EXERCISES) - kinds["written"]
    assert f"{total} exercises, 2 points each, {2 * total} points in all" in guide
    assert f"{checked} of them ({2 * checked} points)" in guide
    assert f"{kinds['transcription']} ask for a formula as code" in guide
    assert f"The {kinds['written']} purely written exercises ({2 * kinds['written']} points)" in guide
