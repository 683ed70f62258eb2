"""Timing helper shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time

import torch


def median_seconds(fn, repeats: int) -> float:
    """The median wall time of ``repeats`` calls of ``fn``, waiting for the GPU if there is one."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
