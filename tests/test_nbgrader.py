"""The classroom path: nbgrader, as a teacher runs it, in a temporary course directory.

Every chapter becomes an assignment whose released copy keeps no model answer. Chapter 1 is
autograded three ways: the instructor's version (every checker passes), a student's copy handed
back unanswered (every exercise 0, the rest of the notebook still runs) and a student's copy with
one planted mistake (that exercise loses its points and the feedback shows the checker's hint).
"""

import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

import nbgrader_cells
import pytest
from nbgrader.api import Gradebook

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
STUB = "YOUR ANSWER HERE"                # what nbgrader leaves in a written answer's cell
GRADED = "01_forward_process"            # the chapter autograded here: about 10 s to run
PLANTED = "ex-forward-add-noise-code"    # its coding exercise, where the mistake is planted
WRONG_ANSWER = '''def my_add_noise(schedule, x0, t, noise):
    alpha_bar = schedule.alpha_bars[t][:, None]
    return alpha_bar * x0 + (1 - alpha_bar) * noise        # the variances, not the scales
'''


class Grade(NamedTuple):
    """One graded cell of a submission, as the gradebook records it."""
    score: float
    auto_score: float | None
    max_score: float
    needs_manual_grade: bool


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _meta(cell):
    return cell["metadata"].get("nbgrader", {})


def _cells_by_id(path):
    return {_meta(c)["grade_id"]: c for c in json.loads(path.read_text())["cells"] if _meta(c)}


def _solution_lines(code):
    """The non-blank lines of a code cell between its solution markers."""
    inside, lines = False, []
    for line in code.splitlines():
        if "### BEGIN SOLUTION" in line or "### END SOLUTION" in line:
            inside = "BEGIN" in line
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


@pytest.fixture
def gradebook_url(tmp_path):
    """Where the course keeps its gradebook: in memory-backed /dev/shm where there is one, since
    SQLite syncs the disk at each of the few hundred commits nbgrader makes (about 10 s here)."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield f"sqlite:///{tmp_path / 'gradebook.db'}"
        return
    folder = Path(tempfile.mkdtemp(prefix="gradebook-", dir=shm))
    try:
        yield f"sqlite:///{folder / 'gradebook.db'}"
    finally:
        shutil.rmtree(folder)


def _course(tmp_path, chapters, gradebook_url):
    """A course directory with one assignment per chapter in source/, as the teacher's guide
    lays it out, and the nbgrader command that runs in it."""
    course = tmp_path / "course"
    for path in chapters:
        (course / "source" / path.stem).mkdir(parents=True)
        shutil.copy(path, course / "source" / path.stem / path.name)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        'c.CourseDirectory.course_id = "diffusion"\n'
        f"c.CourseDirectory.db_url = {gradebook_url!r}\n"
        "c.Execute.timeout = 600       # seconds per cell; nbgrader's default, 30, is too short\n")
    # nbgrader runs alembic from the folder of the Python it runs in
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")

    def nbgrader(*args):
        result = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--log-level=WARN"],
                                cwd=course, env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, (f"nbgrader {' '.join(args)} failed:\n"
                                        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    return course, nbgrader


def test_chapters_carry_the_nbgrader_cells_the_tool_writes():
    """Every cell is marked as tools/nbgrader_cells.py marks it: a chapter edited since (a cell
    added, an answer moved) fails here until the tool runs again."""
    for path in CHAPTERS:
        text = path.read_text(encoding="utf-8")
        assert nbgrader_cells.dumps(nbgrader_cells.mark_cells(json.loads(text), path.name)) == text, (
            f"{path.name}: its nbgrader metadata is out of date; run "
            "python tools/nbgrader_cells.py notebooks/*.ipynb")


def _cell(cell_type, text):
    cell = {"cell_type": cell_type, "metadata": {}, "source": text}
    return cell if cell_type == "markdown" else dict(cell, execution_count=None, outputs=[])


def test_the_tool_splits_answers_out_and_marks_each_role():
    question = "```{exercise} Q\n:label: ex-a\n\nWhy?\n```"
    answer = "```{solution} ex-a\n:class: dropdown\n\nBecause.\n```"
    notebook = {"cells": [
        _cell("markdown", f"{question}\n\n{answer}"),
        _cell("markdown", "```{exercise} Code\n:label: ex-b\n\nWrite f.\n```"),
        _cell("markdown", "```{solution-start} ex-b\n:class: dropdown\n```"),
        _cell("code", "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"),
        _cell("markdown", "And on paper: 1.\n\n```{solution-end}\n```"),
        _cell("code", "dl.checks.check_f(f)"),
    ]}
    marked = nbgrader_cells.mark_cells(notebook, "01_x.ipynb")
    assert nbgrader_cells.mark_cells(marked, "01_x.ipynb") == marked            # idempotent
    roles = [(_source(c), _meta(c)) for c in marked["cells"]]
    assert [text for text, _ in roles] == [question, answer, notebook["cells"][1]["source"],
                                           notebook["cells"][2]["source"],
                                           notebook["cells"][3]["source"], "And on paper: 1.",
                                           "```{solution-end}\n```", "dl.checks.check_f(f)"]
    kinds = [(m["grade_id"] if not m["grade_id"].startswith("ch01-") else "read-only",
              m["solution"], m["grade"], m["locked"], m.get("points")) for _, m in roles]
    assert kinds == [("read-only", False, False, True, None),
                     ("ex-a-answer", True, True, False, 2),
                     ("read-only", False, False, True, None),
                     ("read-only", False, False, True, None),
                     ("ex-b-code", True, False, False, None),
                     ("ex-b-answer", True, True, False, 0),
                     ("read-only", False, False, True, None),
                     ("ex-b-check", False, True, True, 2)]
    ids = [m["grade_id"] for _, m in roles]
    assert len(set(ids)) == len(ids)
    notebook["cells"].pop()
    with pytest.raises(ValueError, match="to call its checker"):
        nbgrader_cells.mark_cells(notebook, "01_x.ipynb")


def _check_released_without_answers(course, gradebook):
    """Every chapter's released copy has every checker, locked, and no model answer: no solution
    code, no ```{solution}``` text, no written answer; each chapter is worth 2 points an exercise."""
    for path in CHAPTERS:
        released = course / "release" / path.stem / path.name
        assert released.is_file(), f"{path.stem}: no released copy"
        text = "\n".join(_source(c) for c in json.loads(released.read_text())["cells"])
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, path.stem
        assert "```{solution}" not in text, f"{path.stem}: a model answer was released"
        source, release = _cells_by_id(path), _cells_by_id(released)
        assert source.keys() == release.keys(), f"{path.stem}: cells lost or added"
        for grade_id, cell in source.items():
            meta, out = _meta(cell), _source(release[grade_id])
            if meta["solution"] and cell["cell_type"] == "code":
                assert "raise NotImplementedError" in out, grade_id
                leaked = [line for line in _solution_lines(_source(cell)) if line in out]
                assert not leaked, f"{grade_id}: solution lines released: {leaked}"
            elif meta["solution"]:
                assert out == STUB, f"{grade_id}: the written answer was released"
                others = "\n".join(_source(c) for g, c in source.items() if g != grade_id)
                own = [line for line in _source(cell).splitlines()
                       if len(line) > 30 and line not in others]
                assert own and not [line for line in own if line in text], grade_id
            else:
                assert out == _source(cell), f"{grade_id}: a read-only cell changed"
                assert release[grade_id]["metadata"]["editable"] is False, grade_id
        exercises = "".join(_source(c) for c in source.values()).count("```{exercise}")
        checkers = [g for g, c in source.items() if _meta(c)["grade"] and c["cell_type"] == "code"]
        assert checkers and all("dl.checks.check_" in _source(release[g]) for g in checkers)
        max_score = gradebook.find_assignment(path.stem).max_score
        assert max_score == 2 * exercises, (
            f"{path.stem}: {max_score} points for {exercises} exercises, expected 2 each")


@pytest.mark.slow
def test_classroom_round_trip(tmp_path, gradebook_url):
    """generate_assignment succeeds for every chapter and releases no answer; chapter 1 is then
    autograded three ways and given feedback: the instructor's version, a copy handed back
    unanswered, and a copy answered in full but for one planted mistake in the coding exercise.
    (One test, so that the course is built once even when pytest-xdist splits the file.)"""
    course, nbgrader = _course(tmp_path, CHAPTERS, gradebook_url)
    nbgrader("generate_assignment", "*")          # every assignment in source/, in one run
    with Gradebook(gradebook_url, "diffusion") as gradebook:
        _check_released_without_answers(course, gradebook)

    name = f"{GRADED}.ipynb"
    source, released = course / "source" / GRADED / name, course / "release" / GRADED / name

    # the hand-ins: the instructor's version; the released copy as it is; the released copy with
    # every answer filled in from the instructor's version but one, which is wrong
    submitted = {who: course / "submitted" / who / GRADED / name
                 for who in ("instructor", "unanswered", "mistake")}
    for path in submitted.values():
        path.parent.mkdir(parents=True)
    shutil.copy(source, submitted["instructor"])
    shutil.copy(released, submitted["unanswered"])
    answers = _cells_by_id(source)
    copy = json.loads(released.read_text())
    for cell in copy["cells"]:
        grade_id = _meta(cell).get("grade_id")
        if _meta(cell).get("solution"):
            cell["source"] = WRONG_ANSWER if grade_id == PLANTED else _source(answers[grade_id])
    assert any(_meta(c).get("grade_id") == PLANTED for c in copy["cells"])
    submitted["mistake"].write_text(json.dumps(copy, indent=1))

    nbgrader("autograde", GRADED)                # every student's hand-in, one after another
    nbgrader("generate_feedback", GRADED, "--student", "mistake")

    with Gradebook(gradebook_url, "diffusion") as gradebook:
        grades = {who: {g.name: Grade(g.score, g.auto_score, g.max_score, g.needs_manual_grade)
                        for g in gradebook.find_submission_notebook(GRADED, GRADED, who).grades}
                  for who in submitted}
        totals = {who: gradebook.find_submission(GRADED, who).score for who in submitted}
    autograded = {g for g, grade in grades["instructor"].items() if not grade.needs_manual_grade}
    written = set(grades["instructor"]) - autograded
    planted_check = PLANTED.removesuffix("-code") + "-check"
    checkers = {g for g in answers if g.endswith("-check")}
    answer_cells = {g for g, c in answers.items() if c["cell_type"] == "markdown"
                    and _meta(c).get("grade") and _meta(c).get("solution")}
    assert planted_check in checkers and len(checkers) >= 2
    assert autograded == checkers and written == answer_cells, grades["instructor"]

    # the instructor's version: every checker passes; the written answers wait for the teacher
    assert all(grades["instructor"][g].auto_score == grades["instructor"][g].max_score == 2
               for g in autograded)
    assert totals["instructor"] == 2 * len(autograded)
    # unanswered: 0 for every exercise, written ones included (nbgrader scores an untouched
    # answer cell 0 without asking the teacher)
    assert all(g.score == 0 and not g.needs_manual_grade for g in grades["unanswered"].values())
    assert totals["unanswered"] == 0
    # one mistake: that exercise's checker scores 0, everything else as the instructor's version
    assert grades["mistake"][planted_check].auto_score == 0
    for grade_id in set(grades["instructor"]) - {planted_check}:
        assert grades["mistake"][grade_id] == grades["instructor"][grade_id], grade_id

    # nothing crashed: in the unanswered copy every code cell ran, and only the checkers (and the
    # stubs themselves) failed
    ran = json.loads((course / "autograded" / "unanswered" / GRADED / name).read_text())
    code = [c for c in ran["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] is not None for c in code)
    failed = {_meta(c).get("grade_id") for c in code
              if any(o["output_type"] == "error" for o in c["outputs"])}
    solutions = {g for g in answers if g.endswith("-code")}
    assert checkers <= failed <= checkers | solutions    # a stub that sets a value stops its cell

    # the feedback shows the checker's hint for the planted mistake, as the checker words it
    import diffusion_lite as dl
    namespace = {}
    exec(WRONG_ANSWER, namespace)
    with pytest.raises(dl.checks.ExerciseError) as hint:
        dl.checks.check_add_noise(namespace["my_add_noise"])
    feedback = (course / "feedback" / "mistake" / GRADED / f"{GRADED}.html").read_text()
    shown = html.unescape(re.sub(r"<[^>]+>", "", feedback))
    assert str(hint.value) in shown
