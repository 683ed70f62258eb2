"""The package's one way to draw Gaussian noise."""

from __future__ import annotations

import torch


def randn_like(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard normal noise of ``x``'s shape, dtype and device, drawn on the CPU: a seeded
    generator then gives the same numbers on every device."""
    return torch.randn(tuple(x.shape), generator=generator, device="cpu").to(x)


def randn(shape, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Standard normal float32 noise of ``shape`` on ``device``, drawn on the CPU."""
    return torch.randn(tuple(shape), generator=generator, device="cpu").to(device or "cpu")
