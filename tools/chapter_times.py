"""Execute chapter notebooks on a fresh kernel and print the seconds each took.

    python tools/chapter_times.py notebooks/0*.ipynb            # time only
    python tools/chapter_times.py --refresh notebooks/01_*.ipynb  # and refresh references
    python tools/chapter_times.py --save-executed _build/executed notebooks/05_*.ipynb

The notebooks themselves are never written; ``--save-executed DIR`` writes executed copies
(with their outputs) to DIR, refusing to replace existing files. ``--refresh`` records the outputs of cells marked
``# NBVAL_CHECK_OUTPUT`` in ``tools/nbval_references.json``, the references nbval compares against.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbval_references


def execute(path: Path) -> tuple[nbformat.NotebookNode, float]:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=1200, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def refresh_references(path: Path, executed: nbformat.NotebookNode) -> int:
    """Record the outputs of the marked cells of an executed chapter as nbval references."""
    marked = nbval_references.marked_cells(executed)
    nbval_references.store(path.name, {c.source: [dict(o) for o in c.outputs] for c in marked})
    return len(marked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--refresh", action="store_true",
                        help="record the outputs of cells marked NBVAL_CHECK_OUTPUT as references")
    parser.add_argument("--save-executed", type=Path, metavar="DIR",
                        help="write executed copies of the notebooks, outputs included, to DIR")
    args = parser.parse_args()
    if args.save_executed is not None:
        for path in args.notebooks:
            if (args.save_executed / path.name).exists():
                parser.error(f"--save-executed: {args.save_executed / path.name} exists; "
                             "remove it or choose another folder")
    device = "cuda: " + torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    print(f"# {platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}, {device}")
    print(f"{'chapter':32s} {'seconds':>8s}")
    total = 0.0
    for path in args.notebooks:
        executed, seconds = execute(path)
        total += seconds
        note = f"  ({refresh_references(path, executed)} reference outputs stored)" if args.refresh else ""
        print(f"{path.stem:32s} {seconds:8.1f}{note}", flush=True)
        if args.save_executed is not None:
            args.save_executed.mkdir(parents=True, exist_ok=True)
            nbformat.write(executed, args.save_executed / path.name)
    print(f"{'total':32s} {total:8.1f}")


if __name__ == "__main__":
    main()
