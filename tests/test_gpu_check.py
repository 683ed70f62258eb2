"""The GPU check's pieces that can be tested without a GPU or a long run: its summary of an
nbval report, and finding chapter 5's MNIST cell with the settings it replaces."""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import gpu_check_mnist  # noqa: E402
import gpu_check_summary  # noqa: E402

REPORT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="" file="01_forward_process.ipynb" name="Cell 0" time="1.5"/>
<testcase classname="" file="01_forward_process.ipynb" name="Cell 1" time="2.0"/>
<testcase classname="" file="09_latent_diffusion.ipynb" name="Cell 0" time="3.0"/>
<testcase classname="" file="09_latent_diffusion.ipynb" name="Cell 1" time="4.0"><failure message="x"/></testcase>
</testsuite></testsuites>"""


def test_the_summary_gives_each_chapter_its_result_and_seconds(tmp_path, capsys):
    (tmp_path / "nbval.xml").write_text(REPORT)
    (tmp_path / "environment.txt").write_text("python 3.11, torch 2.13\ndevice: cpu (no CUDA GPU: a dry run)\n")
    (tmp_path / "mnist.log").write_text("training...\nMNIST cell: trained and sampled in 5 s on cpu\n")
    (tmp_path / "benchmark.md").write_text("| size | network |\n|---|---|\n")
    assert gpu_check_summary.main([str(tmp_path), "42"]) == 1          # chapter 09 failed
    out = capsys.readouterr().out
    assert "| 01 | pass | 2 | 4 |" in out and "| 09 | FAIL | 2 | 7 |" in out
    assert "MNIST cell: trained and sampled" in out and "Total: 42 s." in out


def test_the_mnist_cell_is_found_with_what_a_dry_run_replaces():
    setup, cell = gpu_check_mnist.cells()
    assert not re.search(r"^\s*%", setup, re.MULTILINE) and "import diffusion_lite as dl" in setup
    assert len(re.findall(r"\bsteps=\d", cell)) == 1
    assert cell.count('device.type != "cuda"') == 1
