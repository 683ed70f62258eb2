"""Run chapter 5's MNIST cell ("Scaling up: MNIST on a GPU") on fake MNIST, for a machine that
has a GPU but no network (``tools/gpu_check.sh``). The cell is taken from the chapter as it
stands and run after the chapter's setup cell, with ``dl.data.mnist`` replaced by random
28×28 images; the cell's own asserts check what it trained and sampled.

    python tools/gpu_check_mnist.py [--steps N] [--quick] [--anywhere]

``--steps`` replaces the cell's number of training steps; ``--quick`` shrinks the run to a dry
run of its steps (2 training steps on batches of 8, 2 sampling steps); ``--anywhere`` runs the
cell's GPU branch on whatever device there is (on a CPU, a dry run of the steps).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "notebooks" / "05_training_on_images.ipynb"
MARKER = "def mnist_or_none"


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def cells() -> tuple[str, str]:
    """The chapter's setup cell (its IPython magic removed) and its MNIST cell."""
    notebook = json.loads(CHAPTER.read_text(encoding="utf-8"))
    code = [_source(c) for c in notebook["cells"] if c["cell_type"] == "code"]
    mnist = [c for c in code if MARKER in c]
    if len(mnist) != 1:
        raise SystemExit(f"gpu_check_mnist: expected one cell with {MARKER!r} in {CHAPTER.name}, "
                         f"found {len(mnist)}")
    setup = re.sub(r"^(\s*)%pip .*$", r"\1pass", code[0], flags=re.MULTILINE)
    return setup, mnist[0]


def fake_mnist(split: str = "train", *, root=None):
    """Random images in [-1, 1] of MNIST's shape, with labels: what the data loader returns."""
    import torch

    g = torch.Generator().manual_seed(5)
    n = 60000 if split == "train" else 10000
    images = (torch.rand(n, 1, 28, 28, generator=g) > 0.8).float() * 2 - 1
    return images, torch.randint(0, 10, (n,), generator=g)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps instead of the cell's own number")
    parser.add_argument("--anywhere", action="store_true",
                        help="run the GPU branch on any device (a dry run on a CPU)")
    parser.add_argument("--quick", action="store_true",
                        help="2 training steps on batches of 8, and 2 sampling steps: a dry run")
    args = parser.parse_args(argv)
    setup, cell = cells()
    replace = {"steps": args.steps}
    if args.quick:
        replace = {"steps": args.steps or 2, "batch_size": 8, "num_steps": 2}
    for name, value in replace.items():
        if value is None:
            continue
        cell, n = re.subn(rf"\b{name}=\d[\d_]*", f"{name}={value}", cell)
        if n != 1:
            raise SystemExit(f"gpu_check_mnist: expected one '{name}=N' in the MNIST cell, found {n}")
    if args.anywhere:
        cell, n = re.subn(r'device\.type != "cuda"', "False", cell)
        if n != 1:
            raise SystemExit("gpu_check_mnist: expected the cell to test device.type != \"cuda\"")
    namespace: dict = {"__name__": "__main__"}
    exec(compile(setup, "setup cell", "exec"), namespace)
    namespace["dl"].data.mnist = fake_mnist
    start = time.perf_counter()
    exec(compile(cell, "MNIST cell", "exec"), namespace)
    ran = "mnist_samples" in namespace
    print(f"MNIST cell: {'trained and sampled' if ran else 'skipped its GPU branch'} in "
          f"{time.perf_counter() - start:.0f} s on {namespace['device']}")
    return 0 if ran else 1


if __name__ == "__main__":
    sys.exit(main())
