"""Assemble the source of the HTML book from the chapters nbval has just executed (``make site``).

    python tools/site_source.py _build/executed _build/site-src

Writes into the target folder the book's configuration, table of contents and prose pages, and
for every chapter in ``notebooks/`` its executed copy from the first folder (written by
``tools/nbval_executed.py``). The configuration excludes the chapters from execution: the book
shows the outputs of the run that nbval validated, so each chapter runs once. A chapter without an executed copy
(nbval was not run, or the chapter failed) stops the build with its name.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("_toc.yml", "book")


def site_config(config: dict) -> dict:
    """The book's configuration with the chapters not executed again, the static folders made
    absolute (the copy is built from another folder) and outputs of unknown type made errors."""
    config = dict(config)
    # the chapters show nbval's run; the prose pages with code cells (book/history.md) are run
    # here, they take seconds
    config["execute"] = {**config.get("execute", {}), "execute_notebooks": "force",
                         "exclude_patterns": ["notebooks/*"]}
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    sphinx_config["html_static_path"] = [str((ROOT / p).resolve())
                                         for p in sphinx_config.get("html_static_path", [])]
    # the executed copies hold no widget views (tools/nbval_executed.py), so an output the
    # book cannot show is lost output: let it fail the build
    sphinx_config["suppress_warnings"] = [w for w in sphinx_config.get("suppress_warnings", [])
                                          if w != "mystnb.unknown_mime_type"]
    return config


def assemble(executed_dir: Path, target: Path) -> None:
    chapters = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    missing = [p.name for p in chapters if not (executed_dir / p.name).is_file()]
    if missing:
        raise SystemExit(f"executed_dir: expected an executed copy of every chapter in "
                         f"{executed_dir}, missing {', '.join(missing)} (run `make nbval` first; "
                         "a chapter that failed there has no copy)")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    (target / "_config.yml").write_text(yaml.safe_dump(site_config(config), sort_keys=False))
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("offline"))
        else:
            shutil.copy2(source, target / name)
    (target / "notebooks").mkdir()
    for path in chapters:
        shutil.copy2(executed_dir / path.name, target / "notebooks" / path.name)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    assemble(Path(sys.argv[1]), Path(sys.argv[2]))
