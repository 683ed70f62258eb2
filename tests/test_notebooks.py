"""Notebook hygiene: stored without outputs, setup cell first, known kernel, one repository URL,
exercises with solutions and checkers, every chapter in the table of contents."""

import json
import re
from pathlib import Path

import nbval_references
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPOSITORY = CONFIG["repository"]["url"]


def _load(path):
    return json.loads(path.read_text())


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


# the book's plan: chapter numbers are fixed, so a chapter written early keeps its place
PLANNED = ["01_forward_process", "02_training_objective", "03_ddpm_sampling", "04_unet",
           "05_training_on_images", "06_ddim", "07_guidance", "08_text_conditioning",
           "09_latent_diffusion", "10_score_sde_flow", "11_few_step_sampling",
           "12_diffusion_vs_gans", "13_beyond_images"]


def test_chapters_follow_the_plan():
    """The chapters are the plan's, in its order, without gaps, and the toc lists each."""
    stems = [p.stem for p in CHAPTERS]
    assert stems == PLANNED[:len(stems)], f"expected the plan's chapters in order, got {stems}"
    assert len(stems) >= 11


def test_every_planned_chapter_exists():
    assert [p.stem for p in CHAPTERS] == PLANNED


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_stored_outputs(path):
    for cell in _code_cells(_load(path)):
        assert cell.get("outputs") == [], f"{path.name}: a code cell has stored outputs"
        assert cell.get("execution_count") is None, f"{path.name}: a code cell has an execution count"
    assert "widgets" not in _load(path)["metadata"], f"{path.name}: stored widget state"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_known_kernel(path):
    assert _load(path)["metadata"]["kernelspec"]["name"] == "python3"


def _package_version() -> str:
    """The release: ``diffusion_lite.__version__``, which pyproject.toml reads as its version."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'version = { attr = "diffusion_lite.__version__" }' in pyproject, "pyproject's version moved"
    init = (ROOT / "diffusion_lite" / "__init__.py").read_text()
    return re.search(r'^__version__ = "([^"]+)"', init, re.M).group(1)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_setup_cell_first(path):
    """Where the package is missing, the setup cell installs the release the chapter is written
    for (tagged v<version>) with %pip, then checks the version it imported."""
    setup = _source(_code_cells(_load(path))[0])
    assert setup.startswith("# Setup")
    assert f'REPOSITORY = "{REPOSITORY}"' in setup, "setup cell and _config.yml disagree on the URL"
    version = re.search(r'^VERSION = "([^"]*)"$', setup, re.M)
    assert version and version.group(1) == _package_version(), (
        f"{path.name}: the setup cell pins {version and version.group(1)!r}, the package is "
        f"{_package_version()!r}")
    for needed in ('if importlib.util.find_spec("diffusion_lite") is None:\n'
                   '    %pip install "git+{REPOSITORY}@v{VERSION}"\n',
                   "import diffusion_lite as dl", "if dl.__version__ != VERSION:",
                   "dl.pick_device()", "dl.seed_everything("):
        assert needed in setup, f"{path.name}: setup cell lacks {needed!r}"
    assert "google.colab" not in setup and "subprocess" not in setup


def _colab_url(name):
    slug = REPOSITORY.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{slug}/blob/{CONFIG['repository']['branch']}/colab/{name}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_first_cell_ends_with_a_badge_to_its_portable_copy(path):
    first = next(c for c in _load(path)["cells"] if c["cell_type"] == "markdown")
    badge = re.search(r"\[!\[Open in Colab\]\(([^)]+)\)\]\(([^)]+)\)\Z", _source(first))
    assert badge, f"{path.name}: the first markdown cell does not end with the Colab badge"
    assert (path.parent / badge.group(1)).resolve().is_file(), f"{path.name}: no image {badge.group(1)}"
    assert badge.group(2) == _colab_url(path.name)
    assert (ROOT / "colab" / path.name).is_file(), f"no portable copy colab/{path.name}: make portable"


def test_no_launch_button_to_the_source_notebooks():
    # Colab would open the MyST source, which it shows as raw text; the badges open colab/
    assert "colab_url" not in CONFIG.get("launch_buttons", {})


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_exercises_have_solutions_and_checkers(path):
    nb = _load(path)
    markdown = "\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    code = "\n".join(_source(c) for c in _code_cells(nb))
    assert 2 <= markdown.count("```{exercise}") <= 4
    assert code.count("### BEGIN SOLUTION") == code.count("### END SOLUTION") >= 1
    assert re.search(r"dl\.checks\.check_\w+\(", code), f"{path.name}: no checker is called"
    assert markdown.startswith("# ") and "## Summary" in markdown and "## What's next" in markdown
    assert "## Exercises" in markdown


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_hidden_fast_mode(path):
    code = "\n".join(_source(c) for c in _code_cells(_load(path)))
    assert "NBVAL_SKIP" not in code and "os.environ" not in code


def test_readme_badges_use_the_configured_repository():
    readme = (ROOT / "README.md").read_text()
    slug = REPOSITORY.removeprefix("https://github.com/")
    badges = re.findall(r"https://colab\.research\.google\.com/github/([^)\s]+)", readme)
    assert len(badges) == len(CHAPTERS)
    for path, badge in zip(CHAPTERS, badges):
        assert badge == f"{slug}/blob/{CONFIG['repository']['branch']}/colab/{path.name}"
        assert f"https://colab.research.google.com/github/{badge}" == _colab_url(path.name)


def test_every_chapter_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    for path in CHAPTERS:
        assert f"notebooks/{path.stem}" in toc


def test_citations_exist_in_the_bibliography():
    bib = (ROOT / "book" / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    texts = [p.read_text() for p in CHAPTERS] + [p.read_text() for p in (ROOT / "book").glob("*.md")]
    cited = {k.strip() for t in texts for group in re.findall(r"\{cite:?\w*\}`([^`]+)`", t)
             for k in group.split(",")}
    assert cited, "no citations found"
    assert cited <= keys, f"cited but not in references.bib: {sorted(cited - keys)}"


def test_checked_cells_have_current_reference_outputs():
    """Cells marked NBVAL_CHECK_OUTPUT have a recorded reference for their exact source, and no
    stale references remain (make execute records them)."""
    references = nbval_references.load()
    marked_total = 0
    for path in CHAPTERS:
        keys = {nbval_references.cell_key(_source(c)) for c in nbval_references.marked_cells(_load(path))}
        marked_total += len(keys)
        assert keys == set(references.get(path.name, {})), f"{path.name}: run make execute NB={path}"
        assert all(references[path.name][k] for k in keys), f"{path.name}: an empty reference"
    assert marked_total >= 1
    assert set(references) <= {p.name for p in CHAPTERS}


# ----------------------------------------------------------------------------- claims in prose
# The book's rules (STYLE.md): a markdown cell that says "asserted" sits next to a code cell
# that asserts; a markdown cell never types a measured number. Decimals, percentages and
# scientific numbers in markdown must be constants that a code cell at or above uses literally
# (a learning rate, a bar: 90% matches 0.9), references (eq. 12, sec. 3.2), or one of the
# published constants listed here with their source. Integers are not checked: too many are
# structural (chapter 5, 8×8, T = 1000); the rule for them is the same and is kept by review.

PUBLISHED = {
    "0.02": "Ho et al. 2020's linear schedule ends at beta = 0.02",
    "0.008": "Nichol & Dhariwal 2021's offset s of the cosine schedule",
    "0.999": "the clip of beta in Nichol & Dhariwal 2021",
    "0.18215": "Stable Diffusion v1's published latent scale factor",
}
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:,\d{3})*\.\d+|\d+(?:\.\d+)?\s?%|\d+(?:\.\d+)?e-?\d+)(?![\w])")
_REFERENCE = re.compile(r"(eqs?\.|sec\.|section|algorithm|appendix|table|fig\.|figure|chapter|"
                        r"\bv|version|python|torch|ipywidgets)\s*~?$", re.I)
_SAYS_ASSERTED = re.compile(r"\bassert(ed|s|ing)?\b", re.I)
_ASSERT_LINE = re.compile(r"^\s*assert\b", re.M)


def _prose(markdown: str) -> str:
    """Markdown without code blocks, inline code, link targets and roles' targets."""
    markdown = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    markdown = re.sub(r"\{[a-z:-]+\}`[^`]*`", " ", markdown)
    markdown = re.sub(r"`[^`]*`", " ", markdown)
    return re.sub(r"\]\([^)]*\)", "]", markdown)


def _literals(token: str) -> set[str]:
    """The ways a code cell may write the constant ``token`` (90% is 0.9 or 90)."""
    plain = token.replace(",", "").replace(" ", "")
    if plain.endswith("%"):
        value = float(plain[:-1]) / 100       # 20% lower is 0.8 of it, within 25% is 1.25 of it
        return {f"{v:g}" for v in (value, 1 - value, 1 + value)} | {f"{v:.2f}" for v in (value, 1 - value, 1 + value)}
    return {plain}


def _uses(code: str, literal: str) -> bool:
    return re.search(r"(?<![\d.])" + re.escape(literal) + r"(?![\d])", code) is not None


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_said_asserted_next_to_an_assert(path):
    cells = _load(path)["cells"]
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "markdown" or not _SAYS_ASSERTED.search(_source(cell)):
            continue
        neighbours = [cells[j] for j in (i - 1, i + 1) if 0 <= j < len(cells)]
        assert any(n["cell_type"] == "code" and _ASSERT_LINE.search(_source(n)) for n in neighbours), (
            f"{path.name}, cell {i}: says 'asserted' but neither neighbouring code cell asserts")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_numbers_in_prose_are_constants_not_measurements(path):
    code_above = ""
    for i, cell in enumerate(_load(path)["cells"]):
        if cell["cell_type"] == "code":
            code_above += _source(cell).replace("_", "") + "\n"
            continue
        prose = _prose(_source(cell))
        for match in _NUMBER.finditer(prose):
            token = match.group(1)
            if _REFERENCE.search(prose[max(0, match.start() - 20):match.start()]):
                continue
            if token in PUBLISHED or any(_uses(code_above, lit) for lit in _literals(token)):
                continue
            context = prose[max(0, match.start() - 40):match.end() + 20].replace("\n", " ")
            pytest.fail(f"{path.name}, cell {i}: the number {token!r} is typed in prose "
                        f"(…{context}…); print it from a code cell and refer to the output")
