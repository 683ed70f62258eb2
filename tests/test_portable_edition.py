"""colab/, the portable edition: current with notebooks/, free of MyST markup, and its
generator's forms and refusals."""

import json
import re
from pathlib import Path

import portable_edition as pe
import pytest

ROOT = Path(__file__).resolve().parent.parent
EDITION = sorted((ROOT / "colab").glob("*.ipynb"))
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _source(cell):
    return "".join(cell["source"])


def test_committed_edition_is_current(tmp_path):
    pe.build(tmp_path)
    assert [p.name for p in EDITION] == [p.name for p in CHAPTERS], "colab/ and notebooks/ differ"
    stale = [p.name for p in EDITION if (tmp_path / p.name).read_bytes() != p.read_bytes()]
    assert not stale, f"colab/ is stale for {stale}: run make portable"


MYST = {"a {cite} role": r"\{cite", "a directive": r"(```|:::)\{", "an {eq} role": r"\{eq\}",
        "a {doc} or {ref} role": r"\{(doc|ref|numref)\}", "an equation label": r"\$\$[ \t]*\([^)\s]+\)",
        "a relative link": r"\]\((?![a-z]+:|#)[^)]*\)", "a target": r"^\([\w.-]+\)=$"}


@pytest.mark.parametrize("path", EDITION, ids=lambda p: p.stem)
def test_no_myst_markup_remains(path):
    nb = json.loads(path.read_text())
    for k, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for what, pattern in MYST.items():
            found = re.search(pattern, _source(cell), re.M)
            assert not found, f"{path.name}, cell {k}: {what} remains: {found.group(0)!r}"


@pytest.mark.parametrize("path", EDITION, ids=lambda p: p.stem)
def test_exercises_are_headings_and_answers_hidden(path):
    source = json.loads((ROOT / "notebooks" / path.name).read_text())
    nb = json.loads(path.read_text())
    markdown = "\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    asked = sum(_source(c).count("```{exercise}") for c in source["cells"])
    number = int(path.name[:2])
    headings = re.findall(rf"^#### Exercise {number}\.(\d+) — \S", markdown, re.M)
    assert headings == [str(k) for k in range(1, asked + 1)], f"{path.name}: exercise headings {headings}"
    hidden = [c for c in nb["cells"] if c["metadata"].get("cellView") == "form"]
    for cell in hidden:
        assert _source(cell).startswith(pe.SOLUTION_TITLE + "\n")
        assert cell["metadata"]["jupyter"]["source_hidden"] is True
    answers = markdown.count("<details><summary>Solution</summary>\n\n") + len(hidden)
    assert answers >= asked, f"{path.name}: {asked} exercises, {answers} hidden answers"
    assert markdown.count("<details>") == markdown.count("\n\n</details>")
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and "### BEGIN SOLUTION" in _source(cell):
            assert cell in hidden, f"{path.name}: a solution's code is shown"
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


# ----------------------------------------------------------------------------- the generator

def _chapter(tmp_path, cells, name="03_example.ipynb"):
    nb = {"cells": [{"cell_type": t, "metadata": m, "source": s, **(
        {"outputs": [], "execution_count": None} if t == "code" else {})} for t, s, m in cells],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    path = tmp_path / name
    path.write_text(json.dumps(nb))
    bibliography = pe.load_bibliography(ROOT / "book" / "references.bib")
    return pe.portable(path, bibliography, {"03_example": "3. Example", "01_forward_process": "1. F"})


def test_forms_of_each_markup(tmp_path):
    grading = {"nbgrader": {"solution": True, "grade_id": "x"}}
    nb = _chapter(tmp_path, [
        ("markdown", "# 3. Example\n\nAs {cite:t}`ho2020denoising` and "
                     "{cite:p}`ho2020denoising,salimans2022progressive` show,\n\n$$\nx = 1\n$$ (one)\n\n"
                     "and {eq}`one`; see [notation](../book/notation.md) and {doc}`01_forward_process`.", {}),
        ("markdown", "```{exercise} Do it\n:label: ex-a\n\nWrite $x$ from {eq}`one`.\n```\n\n"
                     "```{solution} ex-a\n:class: dropdown\n\nIt is **1**.\n```", {}),
        ("markdown", "```{exercise} Code it\n:label: ex-b\n\nWrite `f`.\n```", {}),
        ("markdown", "```{solution-start} ex-b\n:class: dropdown\n```", {}),
        ("code", "def f():\n    return 1", grading),
        ("markdown", "Because.\n\n```{solution-end}\n```", {}),
        ("code", "check(f)", {}),
        ("markdown", "Exercise {ref}`ex-b` again.", {}),
    ])
    cells = [_source(c) for c in nb["cells"]]
    assert "As Ho et al. (2020) and (Ho et al., 2020; Salimans and Ho, 2022) show" in cells[0]
    assert "$$\nx = 1 \\tag{1}\n$$\n\nand (1);" in cells[0]
    assert f"[notation]({pe.REPOSITORY}/blob/main/book/notation.md)" in cells[0]
    assert f"[1. F]({pe.colab_url('01_forward_process.ipynb')})" in cells[0]
    assert cells[1] == ("#### Exercise 3.1 — Do it\n\nWrite $x$ from (1).\n\n"
                        "<details><summary>Solution</summary>\n\nIt is **1**.\n\n</details>")
    assert cells[2] == "#### Exercise 3.2 — Code it\n\nWrite `f`."
    assert cells[3] == f"{pe.SOLUTION_TITLE}\ndef f():\n    return 1"           # start cell dropped
    assert nb["cells"][3]["metadata"] == {**grading, "cellView": "form",
                                          "jupyter": {"source_hidden": True}}
    assert cells[4].startswith("# Your turn: write your own `f` here")   # where the reader writes
    assert nb["cells"][4]["metadata"] == {} and "source_hidden" not in str(nb["cells"][4])
    assert cells[5] == pe.ANSWER_PROMPT                                  # ... and the written part
    assert cells[6] == "<details><summary>Solution</summary>\n\nBecause.\n\n</details>"
    assert cells[7] == "check(f)" and nb["cells"][7]["metadata"] == {}
    assert cells[8] == "Exercise *Code it* again."
    assert cells[-1].startswith("## References\n\n- Jonathan Ho, Ajay Jain, Pieter Abbeel (2020). "
                                "*Denoising Diffusion Probabilistic Models*.")  # cited, in order


@pytest.mark.parametrize("markdown, named", [
    ("```{figure} x.png\n```", "{figure}"),
    ("See {numref}`fig-a`.", "{numref}"),
    ("See {eq}`nowhere`.", "nowhere"),
    ("As {cite:p}`nobody2099`.", "nobody2099"),
    ("```{solution} ex-none\n```", "ex-none"),
    ("```{exercise} A\n:label: ex-a\n:nonumber:\n```", "nonumber"),
    ("```{solution-start} ex-a\n```", "never ended"),
    ("(sec-a)=\n## A", "(sec-a)="),
    ("![a figure](figure.png)", "figure.png"),
    ("[a page](../book/missing.md)", "missing.md"),
])
def test_unknown_markup_fails_loudly(tmp_path, markdown, named):
    cells = [("markdown", "```{exercise} A\n:label: ex-a\n```", {}), ("markdown", markdown, {})]
    if named == "nonumber":
        cells = cells[1:]
    with pytest.raises(pe.MarkupError, match=re.escape(named)) as error:
        _chapter(tmp_path, cells)
    assert "03_example.ipynb" in str(error.value)
