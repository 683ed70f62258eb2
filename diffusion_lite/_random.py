"""The package's one way to draw Gaussian noise."""

from __future__ import annotations

import functools

import torch


def _where_drawn(generator: torch.Generator | None) -> torch.device:
    """The CPU, so that a seeded CPU generator gives the same numbers on every device; or the
    device of the generator given, where torch must draw with it (a CUDA generator, say)."""
    return generator.device if generator is not None else torch.device("cpu")


def _draw(draw, generator: torch.Generator | None, device, dtype=None) -> torch.Tensor:
    """``draw(generator=..., device=..., pin_memory=...)``, a torch sampler with its shape bound,
    run where ``_where_drawn`` says, then sent to ``device`` (as ``dtype``). Bound for a CUDA GPU
    from the CPU, the numbers are drawn into pinned memory and copied without waiting: a copy
    from ordinary memory would make the host wait until the GPU has finished its queue."""
    where, device = _where_drawn(generator), torch.device(device)
    pinned = where.type == "cpu" and device.type == "cuda"
    values = draw(generator=generator, device=where, pin_memory=pinned)
    return values.to(device=device, dtype=dtype or values.dtype, non_blocking=pinned)


def randint(low: int, high: int, size: int, generator: torch.Generator | None, device) -> torch.Tensor:
    """``size`` integers uniform in [low, high) on ``device``, drawn as ``randn``'s noise."""
    return _draw(functools.partial(torch.randint, low, high, (size,)), generator, device)


def rand(size: int, generator: torch.Generator | None, device) -> torch.Tensor:
    """``size`` float32 numbers uniform in [0, 1) on ``device``, drawn as ``randn``'s noise."""
    return _draw(functools.partial(torch.rand, (size,)), generator, device)


def randn_like(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard normal noise of ``x``'s shape, dtype and device, drawn on the CPU (or on the
    generator's device): a seeded CPU generator gives the same numbers on every device."""
    return _draw(functools.partial(torch.randn, tuple(x.shape)), generator, x.device, x.dtype)


def randn(shape, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Standard normal float32 noise of ``shape`` on ``device``, drawn as ``randn_like``'s."""
    return _draw(functools.partial(torch.randn, tuple(shape)), generator, device or "cpu",
                 torch.float32)
