"""Write the portable edition of the chapters, ``colab/NN_name.ipynb``: the same cells, with the
book-only MyST markup turned into what Colab and plain JupyterLab render.

- an ``{exercise}`` becomes a heading, "Exercise 4.1 — title", numbered per chapter in order;
- a written ``{solution}`` becomes ``<details><summary>Solution</summary> … </details>``;
- code between ``{solution-start}`` and ``{solution-end}`` is hidden: Colab's form view
  (``cellView: form`` and a ``# @title`` line) and JupyterLab's ``source_hidden``;
- ``{cite:p}``/``{cite:t}`` become "(Ho et al., 2020)" / "Ho et al. (2020)", from
  book/references.bib;
- a labelled equation ``$$ … $$ (label)`` gets ``\\tag{n}`` and ``{eq}`label``` becomes "(n)";
- ``{doc}``, ``{ref}`` and relative links become links to the chapter in Colab or to the file
  on GitHub.

Markup it does not know stops it with the notebook, the cell and the markup named.
The edition is committed; tests/test_portable_edition.py regenerates it and compares.

    python tools/portable_edition.py            # rewrite colab/ from notebooks/
    python tools/portable_edition.py --out DIR  # write elsewhere
"""

from __future__ import annotations

import argparse
import codecs
import copy
import json
import posixpath
import re
from pathlib import Path

import latexcodec  # noqa: F401  (registers the "ulatex" codec)
import yaml
from pybtex.database import parse_file

ROOT = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPOSITORY = CONFIG["repository"]["url"]
BRANCH = CONFIG["repository"]["branch"]
SLUG = REPOSITORY.removeprefix("https://github.com/")
EDITION = "colab"
BADGE_FILE = "book/images/open-in-colab.svg"   # the notebooks' badge, served by the book itself
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
SOLUTION_TITLE = "# @title Solution (try the exercise first)"


class MarkupError(ValueError):
    """Markup the portable edition has no form for."""


def colab_url(name: str) -> str:
    """Where Colab opens the portable copy of the chapter ``name`` (``NN_name.ipynb``)."""
    return f"https://colab.research.google.com/github/{SLUG}/blob/{BRANCH}/{EDITION}/{name}"


def github_url(path: str) -> str:
    return f"{REPOSITORY}/blob/{BRANCH}/{path}"


# ----------------------------------------------------------------------------- citations

def _plain(latex: str) -> str:
    return codecs.decode(latex, "ulatex").replace("{", "").replace("}", "")


def load_bibliography(path: Path) -> dict[str, tuple[str, str]]:
    """Each key's (authors as cited, year): "Ho et al.", "Salimans and Ho", "Chen"."""
    cited = {}
    for key, entry in parse_file(str(path)).entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [_plain(" ".join(p.prelast_names + p.last_names)) for p in people]
        if not names or "year" not in entry.fields:
            raise MarkupError(f"{path.name}: {key} needs an author and a year to be cited")
        if len(names) >= 3 or "others" in names:
            authors = f"{names[0]} et al."
        else:
            authors = " and ".join(names)
        cited[key] = (authors, entry.fields["year"])
    return cited


def load_references(path: Path) -> dict[str, str]:
    """Each key's entry as a reference-list line: authors (year). *Title*. Venue. URL."""
    lines = {}
    for key, entry in parse_file(str(path)).entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [_plain(" ".join(p.first_names + p.middle_names + p.prelast_names + p.last_names))
                 for p in people]
        names = [name if name != "others" else "et al." for name in names]
        fields = {k: _plain(v) for k, v in entry.fields.items()}
        venue = fields.get("journal") or fields.get("booktitle") or fields.get("publisher", "")
        url = entry.fields.get("url") or (f"https://arxiv.org/abs/{entry.fields['eprint']}"
                                          if "eprint" in entry.fields else "")
        parts = [f"{', '.join(names)} ({fields['year']}). *{fields.get('title', key)}*.",
                 f"{venue}." if venue else "", f"<{url}>" if url else ""]
        lines[key] = " ".join(part for part in parts if part)
    return lines


def cite(keys: list[str], role: str, bibliography: dict) -> str:
    missing = [k for k in keys if k not in bibliography]
    if missing:
        raise MarkupError(f"{{{role}}} cites {missing}, not in book/references.bib")
    if role == "cite:t":                                    # Ho et al. (2020)
        return ", ".join(f"{bibliography[k][0]} ({bibliography[k][1]})" for k in keys)
    return "(" + "; ".join(f"{a}, {y}" for a, y in (bibliography[k] for k in keys)) + ")"


# ----------------------------------------------------------------------------- one chapter

class Chapter:
    """The labels of one chapter (exercises and equations, numbered in order) and the rewriting
    of its markdown."""

    def __init__(self, path: Path, bibliography: dict, chapters: dict[str, str]):
        self.path, self.bibliography, self.chapters = path, bibliography, chapters
        self.number = int(path.stem[:2])
        self.exercises: dict[str, tuple[str, str]] = {}      # label -> (number, title)
        self.equations: dict[str, int] = {}                  # label -> n
        self.cited: dict[str, None] = {}                     # keys in order of first citation
        self.in_solution = False
        self.where = ""

    def fail(self, message: str):
        raise MarkupError(f"{self.path.name}, {self.where}: {message}")

    # -- blocks: fenced directives and code, the text between them
    def blocks(self, text: str):
        """Yield ("text", str) and ("fence", name_or_None, argument, options, body, raw)."""
        lines = text.split("\n")
        i, plain = 0, []
        while i < len(lines):
            opening = re.match(r"^ {0,3}(`{3,}|:{3,})(.*)$", lines[i])
            if not opening:
                plain.append(lines[i])
                i += 1
                continue
            mark, info = opening.group(1), opening.group(2).strip()
            end = next((j for j in range(i + 1, len(lines))
                        if re.fullmatch(rf" {{0,3}}{re.escape(mark[0])}{{{len(mark)},}}\s*", lines[j])),
                       None)
            if end is None:
                self.fail(f"the fence {lines[i]!r} is never closed")
            if plain:
                yield ("text", "\n".join(plain))
                plain = []
            raw = "\n".join(lines[i:end + 1])
            directive = re.match(r"^\{([\w:-]+)\}\s*(.*)$", info)
            if directive is None:
                yield ("fence", None, info, {}, "", raw)
            else:
                options, body = self.options(lines[i + 1:end])
                yield ("fence", directive.group(1), directive.group(2).strip(), options, body, raw)
            i = end + 1
        if plain:
            yield ("text", "\n".join(plain))

    def options(self, lines: list[str]) -> tuple[dict, str]:
        if lines and lines[0].strip() == "---":
            self.fail("directive options in a YAML block: write them as :key: value lines")
        options = {}
        while lines and (m := re.match(r"^:([\w-]+):\s*(.*)$", lines[0])):
            options[m.group(1)] = m.group(2).strip()
            lines = lines[1:]
        return options, "\n".join(lines).strip("\n")

    def check_options(self, name: str, options: dict, allowed: set[str]):
        unknown = set(options) - allowed
        if unknown:
            self.fail(f"{{{name}}} has options {sorted(unknown)}; known: {sorted(allowed)}")

    # -- first pass: number the exercises and the labelled equations
    def collect(self, cells: list[dict]):
        for k, cell in enumerate(cells):
            if cell["cell_type"] == "markdown":
                self.where = f"cell {k}"
                self._collect(_source(cell))

    def _collect(self, text: str):
        for block in self.blocks(text):
            if block[0] == "text":
                for label in self.labelled_equations(block[1]):
                    if label in self.equations:
                        self.fail(f"the equation label {label!r} is used twice")
                    self.equations[label] = len(self.equations) + 1
            elif block[1] == "exercise":
                label = block[3].get("label") or self.fail(f"an exercise without :label: ({block[2]!r})")
                self.exercises[label] = (f"{self.number}.{len(self.exercises) + 1}", block[2])
                self._collect(block[4])
            elif block[1] is not None:
                self._collect(block[4])

    @staticmethod
    def labelled_equations(text: str) -> list[str]:
        parts = text.split("$$")
        return [m.group(1) for part in parts[2::2]
                if (m := re.match(r"^[ \t]*\(([^)\s]+)\)", part))]

    # -- second pass: rewrite
    def markdown(self, text: str) -> str:
        """The cell's text in portable form; inside a solution region the text goes into a
        <details> block."""
        out, hidden = [], []
        for block in self.blocks(text):
            if block[0] == "text":
                (hidden if self.in_solution else out).append(self.inline(block[1]))
                continue
            _, name, argument, options, body, raw = block
            if name in ("solution-start", "solution-end"):
                self.check_options(name, options, {"class", "label"})
                if name == "solution-start":
                    if self.in_solution:
                        self.fail("a solution-start inside another solution")
                    self.exercise(argument, name)
                    self.in_solution = True
                else:
                    if not self.in_solution:
                        self.fail("a solution-end without its solution-start")
                    out.append(details(hidden))
                    hidden, self.in_solution = [], False
                continue
            piece = self.directive(name, argument, options, body, raw)
            (hidden if self.in_solution else out).append(piece)
        if self.in_solution:
            out.append(details(hidden))
        return "\n".join(p for p in out if p is not None).strip("\n")

    def directive(self, name, argument, options, body, raw) -> str:
        if name is None:                                     # a plain code block: as it is
            return raw
        if name == "exercise":
            self.check_options(name, options, {"label", "class"})
            number, _ = self.exercises[options["label"]]
            title = f" — {self.inline(argument)}" if argument else ""
            return f"#### Exercise {number}{title}\n\n{self.markdown_nested(body)}"
        if name == "solution":
            self.check_options(name, options, {"label", "class"})
            self.exercise(argument, name)
            return details([self.markdown_nested(body)])
        if name in ("note", "tip", "important", "warning", "seealso", "admonition"):
            self.check_options(name, options, {"class"})
            title = self.inline(argument) if name == "admonition" else name.capitalize()
            if name == "admonition" and not argument:
                self.fail("an admonition without a title")
            content = f"**{title}**\n\n{self.markdown_nested(body)}"
            return "\n".join("> " + line if line else ">" for line in content.split("\n"))
        if name == "math":
            self.check_options(name, options, set())
            return f"$$\n{body}\n$$"
        self.fail(f"the directive {{{name}}} has no portable form yet; add one to {Path(__file__).name}")

    def markdown_nested(self, body: str) -> str:
        inside, self.in_solution = self.in_solution, False
        try:
            return self.markdown(body)
        finally:
            self.in_solution = inside

    def exercise(self, label: str, name: str):
        if label not in self.exercises:
            self.fail(f"{{{name}}} {label!r} names no exercise of this chapter")

    def inline(self, text: str) -> str:
        parts = text.split("$$")                       # odd parts are display math
        if len(parts) % 2 == 0:
            self.fail("an unpaired $$")
        for k in range(0, len(parts), 2):
            label = re.match(r"^[ \t]*\(([^)\s]+)\)", parts[k]) if k else None
            if label:
                parts[k - 1] = f"{parts[k - 1].rstrip()} \\tag{{{self.equations[label.group(1)]}}}\n"
                parts[k] = parts[k][label.end():]
            parts[k] = self.prose(parts[k])
        return "$$".join(parts)

    def prose(self, text: str) -> str:
        for line in text.split("\n"):
            if line.startswith("%") or re.match(r"^\([\w.-]+\)=\s*$", line) or line.startswith("+++"):
                self.fail(f"the MyST line {line!r} has no portable form yet")
        text = re.sub(r"\{([\w:+-]+)\}`([^`]*)`", lambda m: self.role(m.group(1), m.group(2)), text)
        text = re.sub(r"!\[([^\]]*)\]\(([^)\s]+)\)", lambda m: self.link("!", *m.groups()), text)
        return re.sub(r"(?<!!)\[([^\]]*)\]\(([^)\s]+)\)", lambda m: self.link("", *m.groups()), text)

    def role(self, name: str, content: str) -> str:
        explicit = re.fullmatch(r"(.*?)\s*<([^>]+)>", content, re.S)
        text, target = (explicit.group(1), explicit.group(2)) if explicit else (None, content)
        if name in ("cite:p", "cite:t"):
            self.cited.update(dict.fromkeys(k.strip() for k in content.split(",")))
            try:
                return cite([k.strip() for k in content.split(",")], name, self.bibliography)
            except MarkupError as error:
                self.fail(str(error))
        if name == "eq":
            if target not in self.equations:
                self.fail(f"{{eq}}`{target}` names no labelled equation of this chapter")
            return f"({self.equations[target]})"
        if name == "ref":
            if target not in self.exercises:
                self.fail(f"{{ref}}`{target}` names no exercise of this chapter")
            return text or f"*{self.inline(self.exercises[target][1])}*"
        if name == "doc":
            url, title = self.document(target)
            return f"[{text or title}]({url})"
        if name == "math":
            return f"${content}$"
        self.fail(f"the role {{{name}}} has no portable form yet; add one to {Path(__file__).name}")

    def document(self, target: str) -> tuple[str, str]:
        """The URL and title of a {doc} target, written relative to notebooks/."""
        path = posixpath.normpath(posixpath.join("notebooks", target))
        name = posixpath.basename(path)
        if posixpath.dirname(path) == "notebooks" and name in self.chapters:
            return colab_url(f"{name}.ipynb"), self.chapters[name]
        if (ROOT / f"{path}.md").exists():
            return github_url(f"{path}.md"), name
        self.fail(f"{{doc}}`{target}` names no chapter or book page")

    def link(self, bang: str, text: str, target: str) -> str:
        if re.match(r"^([a-z]+:|#)", target):
            return f"{bang}[{text}]({target})"
        path, _, anchor = target.partition("#")
        path = posixpath.normpath(posixpath.join("notebooks", path))
        if bang:
            if path != BADGE_FILE:
                self.fail(f"the image {target!r} is relative, which Colab cannot load")
            return f"![{text}]({BADGE_IMAGE})"
        if not (ROOT / path).exists():
            self.fail(f"the link {target!r} points to no file of the repository")
        name = posixpath.basename(path)
        if posixpath.dirname(path) == "notebooks" and name.removesuffix(".ipynb") in self.chapters:
            url = colab_url(name)
        else:
            url = github_url(path)
        return f"[{text}]({url}{'#' + anchor if anchor else ''})"


def details(pieces: list[str]) -> str | None:
    content = "\n".join(pieces).strip("\n")
    if not content.strip():
        return None
    return f"<details><summary>Solution</summary>\n\n{content}\n\n</details>"


ANSWER_PROMPT = "*Your answer (double-click here to write it; the model answer is folded below):*"


def your_turn(solution: str) -> str:
    """The visible cell where a reader writes their own version of a hidden solution."""
    names = re.findall(r"^def (\w+)", solution, re.MULTILINE)
    what = f"your own `{names[0]}`" if names else "your own version"
    return (f"# Your turn: write {what} here and run this cell.\n"
            "# It replaces the solution hidden above, and the next cell checks yours.\n"
            "# (Left as it is, the next cell checks the hidden solution.)\n")


def _new_cell(kind: str, text: str) -> dict:
    cell = {"cell_type": kind, "metadata": {}, "source": _lines(text)}
    if kind == "code":
        cell.update(outputs=[], execution_count=None)
    return cell


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def portable(path: Path, bibliography: dict, chapters: dict[str, str]) -> dict:
    """The portable edition of the chapter at ``path``, as notebook JSON."""
    nb = json.loads(path.read_text())
    chapter = Chapter(path, bibliography, chapters)
    chapter.collect(nb["cells"])
    cells = []
    for k, cell in enumerate(nb["cells"]):
        chapter.where = f"cell {k}"
        cell = copy.deepcopy(cell)
        if cell["cell_type"] == "markdown":
            text = chapter.markdown(_source(cell))
            if not text.strip():
                continue                             # it held only solution-start/-end
            if text.lstrip().startswith("<details>"):
                cells.append(_new_cell("markdown", ANSWER_PROMPT))
            cell["source"] = _lines(text)
        elif cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
            if chapter.in_solution:
                cell["source"] = _lines(f"{SOLUTION_TITLE}\n{_source(cell)}")
                cell["metadata"]["cellView"] = "form"
                cell["metadata"].setdefault("jupyter", {})["source_hidden"] = True
                cells.append(cell)
                cells.append(_new_cell("code", your_turn(_source(cell))))
                continue
        cells.append(cell)
    if chapter.in_solution:
        raise MarkupError(f"{path.name}: a solution-start is never ended")
    if chapter.cited:                 # the book's bibliography page, for this chapter alone
        references = load_references(ROOT / "book" / "references.bib")
        cells.append(_new_cell("markdown", "## References\n\n" + "\n".join(
            f"- {references[key]}" for key in chapter.cited if key in references)))
    nb["cells"] = cells
    nb["metadata"].pop("widgets", None)
    return nb


def chapter_titles(paths: list[Path]) -> dict[str, str]:
    """Each chapter's stem and the title of its first heading ("1. The forward process: …")."""
    titles = {}
    for path in paths:
        first = next(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown")
        titles[path.stem] = _source(first).split("\n", 1)[0].lstrip("# ").strip()
    return titles


def build(out: Path, notebooks: Path = ROOT / "notebooks") -> list[Path]:
    """Write the portable edition of every chapter in ``notebooks`` into ``out``."""
    paths = sorted(notebooks.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"notebooks: no chapter NN_name.ipynb in {notebooks}")
    bibliography = load_bibliography(ROOT / "book" / "references.bib")
    chapters = chapter_titles(paths)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        nb = portable(path, bibliography, chapters)
        target = out / path.name
        target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        written.append(target)
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / EDITION,
                        help="folder to write into (default: colab/)")
    args = parser.parse_args()
    for path in build(args.out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
