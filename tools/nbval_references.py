"""Reference outputs for nbval, kept beside the notebooks instead of inside them.

Chapters are stored without outputs, but nbval only compares a cell's output when the stored
cell has one. So the exact, device-independent outputs of cells marked ``# NBVAL_CHECK_OUTPUT``
live in ``nbval_references.json`` (keyed by notebook and by a hash of the cell's source), and
``make nbval`` runs nbval on copies of the chapters with those outputs put back in:

    python tools/nbval_references.py inject _build/nbval notebooks/0*.ipynb

``make execute`` refreshes the references (``tools/chapter_times.py --refresh``).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

MARKER = "# NBVAL_CHECK_OUTPUT"
REFERENCES = Path(__file__).with_name("nbval_references.json")


def cell_key(source: str) -> str:
    return hashlib.sha1(source.encode()).hexdigest()[:16]


def marked_cells(notebook: dict) -> list[dict]:
    return [c for c in notebook["cells"]
            if c["cell_type"] == "code" and MARKER in "".join(c["source"])]


def load() -> dict:
    return json.loads(REFERENCES.read_text()) if REFERENCES.exists() else {}


def store(notebook_name: str, outputs_by_source: dict[str, list]) -> None:
    """Replace the references of one notebook by ``{cell source: outputs}``."""
    references = load()
    references[notebook_name] = {cell_key(src): outs for src, outs in outputs_by_source.items()}
    REFERENCES.write_text(json.dumps(references, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def inject(target_dir: Path, notebooks: list[Path]) -> None:
    """Write copies of ``notebooks`` into ``target_dir`` with reference outputs filled in."""
    references = load()
    target_dir.mkdir(parents=True, exist_ok=True)
    for path in notebooks:
        nb = json.loads(path.read_text())
        known = references.get(path.name, {})
        for cell in marked_cells(nb):
            key = cell_key("".join(cell["source"]))
            if key not in known:
                raise SystemExit(f"{path.name}: a cell marked {MARKER} has no reference output; "
                                 "run `make execute NB=...` to record it")
            cell["outputs"], cell["execution_count"] = known[key], 1
        (target_dir / path.name).write_text(json.dumps(nb, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[1] != "inject":
        raise SystemExit(__doc__)
    inject(Path(sys.argv[2]), [Path(p) for p in sys.argv[3:]])
