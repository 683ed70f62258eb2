"""Building blocks shared by the denoisers (chapters 2 and 4)."""

from __future__ import annotations

import math

import torch


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal features of integer steps, as the Transformer's positions
    (Vaswani et al. 2017, sec. 3.5; used for t by Ho et al. 2020, appendix B). (B,) -> (B, dim)."""
    if dim % 2:
        raise ValueError(f"dim: expected an even number of features, got {dim}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)  # (half,)
    angles = t.float()[:, None] * freqs[None, :]                                          # (B, half)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)                       # (B, dim)
