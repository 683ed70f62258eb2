"""The tools that build the book from the chapters nbval executed (tools/nbval_executed.py,
tools/site_source.py): what they keep, what they refuse."""

import sys
from pathlib import Path

import nbformat
import pytest

TOOLS = Path(__file__).resolve().parent.parent / "tools"
sys.path.insert(0, str(TOOLS))

import nbval_executed  # noqa: E402
import site_source  # noqa: E402


def test_executed_copies_keep_outputs_but_not_widget_views():
    raw = [
        {"output_type": "stream", "name": "stdout", "text": "loss 0.1\n"},
        {"output_type": "display_data", "metadata": {},
         "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "x"},
                  "text/plain": "HBox(children=(FloatProgress(value=0.0),))"}},
        {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBOR",
                                                                  "text/plain": "<Figure>"}},
        {"output_type": "execute_result", "metadata": {}, "execution_count": 3,
         "data": {"text/plain": "42"}},
        {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": ["t"]},
    ]
    kept = nbval_executed.static_outputs(raw)
    assert [o.output_type for o in kept] == ["stream", "display_data", "execute_result", "error"]
    assert "HBox" not in str(kept)
    cell = nbformat.v4.new_code_cell("x", outputs=kept, execution_count=3)
    nbformat.validate(nbformat.v4.new_notebook(cells=[cell]))      # a valid notebook


def test_site_source_refuses_a_missing_chapter_and_turns_execution_off(tmp_path):
    with pytest.raises(SystemExit, match="executed_dir: expected an executed copy"):
        site_source.assemble(tmp_path / "none", tmp_path / "site")
    config = site_source.site_config({"execute": {"execute_notebooks": "cache"}, "sphinx": {
        "config": {"html_static_path": ["_build/x"],
                   "suppress_warnings": ["mystnb.unknown_mime_type", "other"]}}})
    assert config["execute"]["exclude_patterns"] == ["notebooks/*"]      # chapters never run again
    assert Path(config["sphinx"]["config"]["html_static_path"][0]).is_absolute()
    assert config["sphinx"]["config"]["suppress_warnings"] == ["other"]
