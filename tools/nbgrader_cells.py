"""Mark the chapters' cells for nbgrader (cell metadata, schema version 3), in place:

    python tools/nbgrader_cells.py notebooks/*.ipynb

- a code cell with ``### BEGIN SOLUTION`` / ``### END SOLUTION`` is a solution cell,
  ``<label>-code`` (the label of its exercise);
- the checker cell after it (``dl.checks.check_...``) is an autograded test cell, ``<label>-check``,
  locked, worth ``POINTS``;
- the model answer of a written exercise, a ```{solution}``` block, is a manually graded answer,
  ``<label>-answer``, worth ``POINTS``; where it shares a markdown cell with other text, the cell
  is split so that the answer stands alone (the book renders the pieces as before);
- the written part of a coding exercise's answer (markdown between ```{solution-start}``` and
  ```{solution-end}```) is a manually graded answer worth 0 points, since the exercise's points
  are its checker's: it is removed from the students' copies and left to the teacher's comments;
- every other cell is read-only (locked), with an id of its own that later runs keep.

Run it again after adding or moving cells: it is idempotent, and a run that changes nothing
leaves the files as they are. ``--check`` reports the notebooks it would change, and changes none.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

POINTS = 2            # every exercise: a coding one by its checker, a written one by hand
SCHEMA_VERSION = 3

_EXERCISE_LABEL = re.compile(r"```\{exercise\}[^\n]*\n(?::[^\n]*\n)*?:label:\s*(\S+)")
_SOLUTION_START = re.compile(r"```\{solution-start\}\s*(\S+)")
_SOLUTION_END = re.compile(r"^```\{solution-end\}[^\n]*\n```[ \t]*$", re.MULTILINE)
_WRITTEN_ANSWER = re.compile(r"```\{solution\}[ \t]*(\S+)[^\n]*\n.*?\n```[ \t]*(?=\n|$)", re.DOTALL)
_CHECKER = re.compile(r"\bdl\.checks\.check_\w+\(")
_GRADE_ID = re.compile(r"^[a-zA-Z0-9_\-]+$")


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _lines(text: str) -> list[str]:
    """A cell source as nbformat stores it: lines that keep their newline, the last one without."""
    return text.splitlines(keepends=True)


def _markdown_cell(text: str, like: dict) -> dict:
    """A new markdown cell; in nbformat 4.5 (``like`` has an id) its id is set by mark_cells."""
    if "id" in like:
        return {"cell_type": "markdown", "id": "", "metadata": {}, "source": _lines(text)}
    return {"cell_type": "markdown", "metadata": {}, "source": _lines(text)}


def _pieces(text: str, pattern: re.Pattern) -> list[str]:
    """``text`` cut before and after each match of ``pattern``, blank pieces dropped."""
    pieces, start = [], 0
    for match in pattern.finditer(text):
        pieces += [text[start:match.start()], match.group(0)]
        start = match.end()
    pieces.append(text[start:])
    return [p.strip("\n") for p in pieces if p.strip()]


def split_answer_cells(cells: list[dict]) -> list[dict]:
    """Cells where each model answer stands alone: a markdown cell that holds a ```{solution}```
    block and other text, or a coding exercise's written answer followed by its
    ```{solution-end}```, becomes several markdown cells, in the same order. The first piece
    keeps the cell's metadata (and id)."""
    result = []
    for cell in cells:
        text = _source(cell)
        if cell["cell_type"] != "markdown":
            result.append(cell)
            continue
        pieces = _pieces(text, _WRITTEN_ANSWER)
        if len(pieces) == 1:
            pieces = _pieces(text, _SOLUTION_END)
        if len(pieces) == 1:
            result.append(cell)
            continue
        first = dict(cell, source=_lines(pieces[0]))
        result += [first] + [_markdown_cell(p, cell) for p in pieces[1:]]
    return result


def _nbgrader(grade_id: str, *, grade: bool, solution: bool, locked: bool,
              points: int | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked}
    if grade:
        meta["points"] = points
    meta.update(schema_version=SCHEMA_VERSION, solution=solution)
    return meta


def _roles(cells: list[dict], name: str) -> list[dict | None]:
    """The nbgrader metadata of each exercise cell, None for the cells that are read-only."""
    roles: list[dict | None] = [None] * len(cells)
    label = None                        # the exercise being read
    in_solution = False                 # between {solution-start} and {solution-end}
    for i, cell in enumerate(cells):
        text = _source(cell)
        if cell["cell_type"] == "markdown":
            labels = _EXERCISE_LABEL.findall(text)
            if labels:
                label = labels[-1]
            if (start := _SOLUTION_START.search(text)) is not None:
                label, in_solution = start.group(1), True
            elif _SOLUTION_END.search(text):
                in_solution = False
            elif (answer := _WRITTEN_ANSWER.fullmatch(text.strip("\n"))) is not None:
                roles[i] = _nbgrader(f"{answer.group(1)}-answer", grade=True, solution=True,
                                     locked=False, points=POINTS)
            elif in_solution:
                roles[i] = _nbgrader(f"{label}-answer", grade=True, solution=True, locked=False,
                                     points=0)
            continue
        if "### BEGIN SOLUTION" not in text:
            continue
        if label is None:
            raise ValueError(f"{name}, cell {i}: a solution cell before any ```{{exercise}}``` "
                             "with a :label:; expected the exercise to come first")
        roles[i] = _nbgrader(f"{label}-code", grade=False, solution=True, locked=False)
        checker = next((j for j in range(i + 1, len(cells)) if cells[j]["cell_type"] == "code"),
                       None)
        if checker is None or not _CHECKER.search(_source(cells[checker])):
            raise ValueError(f"{name}, cell {i}: expected the next code cell after the solution "
                             f"of {label!r} to call its checker, dl.checks.check_...(...)")
        roles[checker] = _nbgrader(f"{label}-check", grade=True, solution=False, locked=True,
                                   points=POINTS)
    return roles


def _new_id(prefix: str, text: str, taken: set[str]) -> str:
    base = f"{prefix}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"
    grade_id, n = base, 2
    while grade_id in taken:
        grade_id, n = f"{base}-{n}", n + 1
    return grade_id


def mark_cells(notebook: dict, name: str = "notebook") -> dict:
    """The notebook (JSON) with its answer cells split out and every cell's nbgrader metadata
    set; a new dict, the argument is left as it is."""
    notebook = json.loads(json.dumps(notebook))
    cells = notebook["cells"] = split_answer_cells(notebook["cells"])
    roles = _roles(cells, name)
    exercise_ids = [r["grade_id"] for r in roles if r is not None]
    duplicates = sorted({g for g in exercise_ids if exercise_ids.count(g) > 1})
    if duplicates:
        raise ValueError(f"{name}: expected one solution, checker and answer per exercise label, "
                         f"got several cells for {duplicates}")
    taken = set(exercise_ids)
    prefix = "ch" + (re.match(r"\d+", name).group(0) if re.match(r"\d+", name) else "x")
    for cell, role in zip(cells, roles):
        if role is None:
            old = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
            keep = (_GRADE_ID.match(old) and old not in taken and old.startswith(prefix + "-"))
            grade_id = old if keep else _new_id(prefix, _source(cell), taken)
            role = _nbgrader(grade_id, grade=False, solution=False, locked=True)
        taken.add(role["grade_id"])
        cell.setdefault("metadata", {})["nbgrader"] = role
    for cell in cells:                  # cells split off in nbformat 4.5 need ids of their own
        if cell.get("id") == "":
            cell["id"] = cell["metadata"]["nbgrader"]["grade_id"][:64]
    return notebook


def dumps(notebook: dict) -> str:
    """The notebook as the repository stores it."""
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("notebooks", nargs="+", type=Path, help="chapter notebooks to mark")
    parser.add_argument("--check", action="store_true",
                        help="only report the notebooks that are not marked as this tool marks them")
    args = parser.parse_args(argv)
    stale = []
    for path in args.notebooks:
        if path.suffix != ".ipynb" or not path.is_file():
            parser.error(f"notebooks: expected .ipynb files, got {path}")
        text = path.read_text(encoding="utf-8")
        try:
            marked = dumps(mark_cells(json.loads(text), path.name))
        except ValueError as error:
            parser.error(str(error))
        if marked != text:
            stale.append(path)
            if not args.check:
                path.write_text(marked, encoding="utf-8")
    verb = "would change" if args.check else "changed"
    print(f"{verb} {len(stale)} of {len(args.notebooks)} notebooks"
          + "".join(f"\n  {p}" for p in stale))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
