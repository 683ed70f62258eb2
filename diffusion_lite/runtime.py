"""Where a chapter runs and how it is seeded: the device to use and one call that seeds every
random number generator (the setup cell of every chapter)."""

from __future__ import annotations

import random

import numpy as np
import torch


def pick_device() -> torch.device:
    """``cuda`` if present, else Apple's ``mps``, else ``cpu``."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch, and make a GPU compute as a CPU does: full float32
    precision (no TF32 matrix products or convolutions, which differ from the CPU's by up to
    1e-3 relative) and deterministic cuDNN kernels, so that two runs agree bitwise and a
    chapter's numbers agree across devices within their margins. Returns a CPU generator seeded
    the same way."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
