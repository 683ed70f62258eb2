"""A pytest plugin for the chapter runs (``make nbval``): keep what nbval executed.

nbval runs every cell of a chapter in a kernel and compares the marked cells' outputs, then
forgets the outputs. With ``--nbval-executed-dir DIR`` this plugin writes each chapter, with the
outputs its cells just produced, to ``DIR/<chapter>.ipynb`` once its last cell has run. The book
is then built from those copies without executing anything again (``make site``): every chapter
runs once per ``make test``.

Widget views (the progress bars of ``tqdm.auto``) are dropped from the copies: their state lives
in the kernel, which is gone, and a static page can only show them as debris. A chapter whose run
failed is not written, so a stale copy can never stand in for it.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def pytest_addoption(parser):
    parser.getgroup("nbval").addoption(
        "--nbval-executed-dir", default=None, metavar="DIR",
        help="write each notebook nbval ran, with its new outputs, into DIR")


def static_outputs(outputs) -> list:
    """nbval's raw outputs of one cell as nbformat outputs, widget views removed."""
    kept = []
    for out in outputs or []:
        kind = out["output_type"]
        if kind == "stream":
            kept.append(nbformat.v4.new_output("stream", name=out["name"], text=out["text"]))
        elif kind in ("display_data", "execute_result"):
            if WIDGET_VIEW in out["data"]:
                continue                      # a widget; its text/plain twin is only its repr
            fields = {"data": dict(out["data"]), "metadata": dict(out.get("metadata", {}))}
            if kind == "execute_result":
                fields["execution_count"] = out.get("execution_count")
            kept.append(nbformat.v4.new_output(kind, **fields))
        elif kind == "error":
            kept.append(nbformat.v4.new_output("error", ename=out["ename"],
                                               evalue=out["evalue"], traceback=out["traceback"]))
    return kept


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when == "call" and hasattr(item, "test_outputs"):
        item.cell.outputs = static_outputs(item.test_outputs)
        item.cell.execution_count = item.cell_num + 1
        if outcome.get_result().failed:
            item.parent.nbval_run_failed = True


def pytest_runtest_teardown(item, nextitem):
    target = item.config.getoption("nbval_executed_dir", None)
    if not target or not hasattr(item, "test_outputs"):
        return
    if nextitem is not None and nextitem.parent is item.parent:
        return                                # the chapter has cells left to run
    path = Path(target) / Path(str(item.parent.path)).name
    path.unlink(missing_ok=True)
    if getattr(item.parent, "nbval_run_failed", False):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(item.parent.nb, str(path))
