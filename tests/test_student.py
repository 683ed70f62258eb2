"""`make student`: solutions removed, everything else intact; a student copy runs up to its
first exercise."""

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from diffusion_lite.student import (
    ANSWER_STUB,
    main,
    strip_solutions,
    strip_written_answers,
    student_notebook,
    write_student_copies,
)

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_strip_solutions_keeps_indentation_and_surroundings():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n\ncheck(f)\n"
    assert strip_solutions(source) == (
        'def f(x):\n    raise NotImplementedError("your code here")\n\ncheck(f)\n')


def test_unbalanced_markers_are_an_error():
    with pytest.raises(ValueError, match="source: expected matching"):
        strip_solutions("### BEGIN SOLUTION\nx = 1\n")


def test_written_answers_are_removed():
    source = ("```{exercise} Q\n:label: ex-a\n\nWhy?\n```\n\n```{solution} ex-a\n:class: dropdown\n\n"
              "Because.\n```\n\n```{exercise} R\n:label: ex-b\n\nHow?\n```")
    stripped = strip_written_answers(source)
    assert "Because" not in stripped and "{solution}" not in stripped
    assert "Why?" in stripped and "How?" in stripped


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_student_copy_removes_every_solution_and_nothing_else(path):
    """Code solutions become NotImplementedError; each written answer (a markdown cell marked
    as nbgrader's solution, the whole of a ```{solution}``` block or the written part of a coding
    exercise's answer) becomes the answer stub; every other cell is unchanged."""
    original = json.loads(path.read_text())
    copy = student_notebook(original)
    assert len(copy["cells"]) == len(original["cells"])
    answers = 0
    for before, after in zip(original["cells"], copy["cells"]):
        text_before, text_after = "".join(before["source"]), "".join(after["source"])
        if "### BEGIN SOLUTION" in text_before:
            assert "### BEGIN SOLUTION" not in text_after
            assert "raise NotImplementedError" in text_after
        elif before["metadata"].get("nbgrader", {}).get("solution"):
            assert before["cell_type"] == "markdown" and text_after == ANSWER_STUB
            answers += 1
        else:
            assert "```{solution}" not in text_before, "a model answer outside an answer cell"
            assert text_before == text_after
    assert answers == "".join(_text(c) for c in original["cells"]).count("```{solution}") + sum(
        1 for c in original["cells"] if c["metadata"].get("nbgrader", {}).get("points") == 0)


def _text(cell):
    return "".join(cell["source"])


def test_unmarked_notebook_loses_its_solution_blocks():
    """A notebook without nbgrader metadata: ```{solution}``` blocks are cut from their cells."""
    cell = {"cell_type": "markdown", "metadata": {}, "source": (
        "```{exercise} Q\n:label: ex-a\n\nWhy?\n```\n\n```{solution} ex-a\n:class: dropdown\n\n"
        "Because.\n```")}
    copy = student_notebook({"cells": [cell]})
    assert _text(copy["cells"][0]) == "```{exercise} Q\n:label: ex-a\n\nWhy?\n```"


def test_write_student_copies_never_overwrites_silently(tmp_path):
    written = write_student_copies(ROOT / "notebooks", tmp_path)
    assert [p.name for p in written] == [p.name for p in CHAPTERS]
    (tmp_path / CHAPTERS[0].name).write_text("a student's work")
    with pytest.raises(FileExistsError, match="--overwrite"):
        write_student_copies(ROOT / "notebooks", tmp_path)
    assert (tmp_path / CHAPTERS[0].name).read_text() == "a student's work"


def test_refuses_to_write_over_its_source(tmp_path, capsys):
    """`student notebooks notebooks --overwrite` would strip the instructor's solutions in place:
    refused, through the same path, a symbolic link to the folder, or links to the notebooks."""
    source = tmp_path / "notebooks"
    source.mkdir()
    for path in CHAPTERS[:2]:
        (source / path.name).write_text(path.read_text())
    before = {p.name: p.read_text() for p in source.iterdir()}
    (tmp_path / "link").symlink_to(source, target_is_directory=True)
    linked = tmp_path / "linked_files"
    linked.mkdir()
    for path in source.iterdir():
        (linked / path.name).symlink_to(path)
    for target in (source, tmp_path / "link", tmp_path / "notebooks" / ".." / "notebooks"):
        with pytest.raises(ValueError, match="target_dir: expected a folder other than source_dir"):
            write_student_copies(source, target, overwrite=True)
    with pytest.raises(ValueError, match="target_dir: .* is the source notebook"):
        write_student_copies(source, linked, overwrite=True)
    with pytest.raises(SystemExit, match="make student: target_dir: expected a folder other"):
        main([str(source), str(source), "--overwrite"])
    assert {p.name: p.read_text() for p in source.iterdir()} == before
    assert "### BEGIN SOLUTION" in before[CHAPTERS[0].name]


@pytest.mark.slow
def test_student_copy_runs_up_to_its_first_exercise(tmp_path):
    """Execute chapter 1's student copy: the first error must be the first exercise's
    NotImplementedError, so every cell before it ran."""
    copy = student_notebook(json.loads(CHAPTERS[0].read_text()))
    nb = nbformat.reads(json.dumps(copy), as_version=4)
    first_exercise = next(i for i, c in enumerate(nb.cells)
                          if c.cell_type == "code" and "raise NotImplementedError" in c.source)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "notebooks")}})
    with pytest.raises(CellExecutionError, match="NotImplementedError"):
        client.execute()
    executed = [i for i, c in enumerate(nb.cells)
                if c.cell_type == "code" and c.get("execution_count") is not None]
    calls_exercise = next(i for i, c in enumerate(nb.cells) if i > first_exercise
                          and c.cell_type == "code" and "dl.checks." in c.source)
    assert max(executed) == calls_exercise
    assert all(c.get("execution_count") is not None for i, c in enumerate(nb.cells)
               if c.cell_type == "code" and i < first_exercise)
