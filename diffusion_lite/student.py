"""Write student copies of the chapters: every solution between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` (nbgrader's markers) becomes ``raise NotImplementedError``, and the model
answers to written exercises are removed: a markdown cell that nbgrader's metadata marks as an
answer becomes ``YOUR ANSWER HERE``, and ``{solution}`` blocks elsewhere are deleted.

    python -m diffusion_lite.student notebooks student
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n.*?^[ \t]*### END SOLUTION[^\n]*(\n|$)",
                       re.MULTILINE | re.DOTALL)


def strip_solutions(source: str) -> str:
    """Replace each solution block in a cell's source by ``raise NotImplementedError``,
    indented like the block's first marker."""
    if source.count(BEGIN) != source.count(END):
        raise ValueError(f"source: expected matching {BEGIN!r} / {END!r} markers, got "
                         f"{source.count(BEGIN)} and {source.count(END)}")
    return _SOLUTION.sub(lambda m: f"{m.group(1)}raise NotImplementedError(\"your code here\")"
                                   f"{m.group(2)}", source)


_WRITTEN_ANSWER = re.compile(r"\n*```\{solution\}[^\n]*\n.*?\n```[ \t]*(?=\n|$)", re.DOTALL)


def strip_written_answers(source: str) -> str:
    """Remove each ```{solution} ...``` block (a model answer) from a markdown cell."""
    return _WRITTEN_ANSWER.sub("", source)


ANSWER_STUB = "YOUR ANSWER HERE"      # what nbgrader leaves in an answer cell, too


def _is_answer_cell(cell: dict) -> bool:
    """A markdown cell that nbgrader's metadata marks as a student's answer (a solution cell)."""
    return cell["cell_type"] == "markdown" and bool(
        cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def student_notebook(notebook: dict) -> dict:
    """A copy of a notebook (as JSON) with code solutions and written answers removed."""
    copy = json.loads(json.dumps(notebook))
    for cell in copy["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code":
            cell["source"] = strip_solutions(source)
            cell["outputs"], cell["execution_count"] = [], None
        elif _is_answer_cell(cell):
            cell["source"] = ANSWER_STUB
        elif cell["cell_type"] == "markdown":
            cell["source"] = strip_written_answers(source)
    return copy


def _refuse_source_as_target(source_dir: Path, target_dir: Path, notebooks: list[Path]) -> None:
    """Raise ValueError if writing into ``target_dir`` would replace a source notebook: the same
    folder (also through a symbolic link), or a copy's path that is a source file (a link)."""
    if target_dir.resolve() == source_dir.resolve():
        raise ValueError(f"target_dir: expected a folder other than source_dir, got {target_dir}, "
                         f"which is {source_dir} (resolved: {source_dir.resolve()}); the copies "
                         "would replace the instructor's notebooks. Write them elsewhere, e.g. "
                         "student/")
    if (target_dir.exists() or target_dir.is_symlink()) and not target_dir.is_dir():
        raise ValueError(f"target_dir: expected a folder or a new path, got {target_dir}, which "
                         "is a file or a broken link")
    for path in notebooks:
        out = target_dir / path.name
        source = next((p for p in notebooks if out.exists() and os.path.samefile(out, p)), None)
        if source is not None:
            raise ValueError(f"target_dir: expected copies that are new files, but {out} is the "
                             f"source notebook {source} (a link to it); the copy would replace "
                             "the instructor's notebook. Remove the link or write elsewhere")


def write_student_copies(source_dir, target_dir, *, overwrite: bool = False) -> list[Path]:
    """Write a student copy of every ``*.ipynb`` in ``source_dir`` into ``target_dir``.
    Refuses to replace existing copies (a student's work) unless ``overwrite=True``, and always
    refuses to write over the source notebooks themselves."""
    source_dir, target_dir = Path(source_dir), Path(target_dir)
    notebooks = sorted(source_dir.glob("[0-9]*.ipynb"))
    if not notebooks:
        raise ValueError(f"source_dir: expected chapter notebooks in {source_dir}, found none")
    _refuse_source_as_target(source_dir, target_dir, notebooks)
    existing = [target_dir / p.name for p in notebooks if (target_dir / p.name).exists()]
    if existing and not overwrite:
        raise FileExistsError(f"target_dir: {len(existing)} copies already exist in {target_dir} "
                              f"(e.g. {existing[0].name}); pass --overwrite (make student "
                              "OVERWRITE=1) to replace them")
    target_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        out = target_dir / path.name
        out.write_text(json.dumps(student_notebook(json.loads(path.read_text())), indent=1) + "\n")
        written.append(out)
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("source_dir", help="folder of chapter notebooks (notebooks/)")
    parser.add_argument("target_dir", help="folder for the student copies (student/)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing copies")
    args = parser.parse_args(argv)
    try:
        written = write_student_copies(args.source_dir, args.target_dir, overwrite=args.overwrite)
    except (FileExistsError, ValueError) as error:
        raise SystemExit(f"make student: {error}") from None
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
