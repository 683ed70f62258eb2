"""The package's one way to draw Gaussian noise."""

from __future__ import annotations

import torch


def _where_drawn(generator: torch.Generator | None) -> torch.device:
    """The CPU, so that a seeded CPU generator gives the same numbers on every device; or the
    device of the generator given, where torch must draw with it (a CUDA generator, say)."""
    return generator.device if generator is not None else torch.device("cpu")


def _draw(shape, generator: torch.Generator | None, device, dtype=torch.float32) -> torch.Tensor:
    """Noise drawn where ``_where_drawn`` says, then sent to ``device``. Bound for a CUDA GPU from
    the CPU, it is drawn into pinned memory and copied without waiting: a copy from ordinary
    memory would make the host wait until the GPU has finished its queue, once per step."""
    where, device = _where_drawn(generator), torch.device(device)
    pinned = where.type == "cpu" and device.type == "cuda"
    noise = torch.randn(tuple(shape), generator=generator, device=where, pin_memory=pinned)
    return noise.to(device=device, dtype=dtype, non_blocking=pinned)


def randint(low: int, high: int, size: int, generator: torch.Generator | None, device) -> torch.Tensor:
    """``size`` integers uniform in [low, high) on ``device``, drawn as ``randn``'s noise."""
    where, device = _where_drawn(generator), torch.device(device)
    pinned = where.type == "cpu" and device.type == "cuda"
    values = torch.randint(low, high, (size,), generator=generator, device=where, pin_memory=pinned)
    return values.to(device, non_blocking=pinned)


def rand(size: int, generator: torch.Generator | None, device) -> torch.Tensor:
    """``size`` float32 numbers uniform in [0, 1) on ``device``, drawn as ``randn``'s noise."""
    where, device = _where_drawn(generator), torch.device(device)
    pinned = where.type == "cpu" and device.type == "cuda"
    values = torch.rand((size,), generator=generator, device=where, pin_memory=pinned)
    return values.to(device, non_blocking=pinned)


def randn_like(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard normal noise of ``x``'s shape, dtype and device, drawn on the CPU (or on the
    generator's device): a seeded CPU generator gives the same numbers on every device."""
    return _draw(x.shape, generator, x.device, x.dtype)


def randn(shape, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Standard normal float32 noise of ``shape`` on ``device``, drawn as ``randn_like``'s."""
    return _draw(shape, generator, device or "cpu")
