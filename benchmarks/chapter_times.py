"""Execute chapter notebooks on a fresh kernel and print the seconds each took.

    python benchmarks/chapter_times.py notebooks/0*.ipynb

Outputs are discarded: the stored notebooks stay without outputs.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient


def run(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=1200, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args()
    device = "cuda: " + torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {device}")
    print(f"{'chapter':32s} {'seconds':>8s}")
    total = 0.0
    for path in args.notebooks:
        seconds = run(path)
        total += seconds
        print(f"{path.stem:32s} {seconds:8.1f}", flush=True)
    print(f"{'total':32s} {total:8.1f}")


if __name__ == "__main__":
    main()
