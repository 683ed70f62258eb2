"""The package's one way to draw Gaussian noise."""

from __future__ import annotations

import torch


def _where_drawn(generator: torch.Generator | None) -> torch.device:
    """The CPU, so that a seeded CPU generator gives the same numbers on every device; or the
    device of the generator given, where torch must draw with it (a CUDA generator, say)."""
    return generator.device if generator is not None else torch.device("cpu")


def randn_like(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard normal noise of ``x``'s shape, dtype and device, drawn on the CPU (or on the
    generator's device): a seeded CPU generator gives the same numbers on every device."""
    return torch.randn(tuple(x.shape), generator=generator, device=_where_drawn(generator)).to(x)


def randn(shape, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Standard normal float32 noise of ``shape`` on ``device``, drawn as ``randn_like``'s."""
    return torch.randn(tuple(shape), generator=generator,
                       device=_where_drawn(generator)).to(device or "cpu")
