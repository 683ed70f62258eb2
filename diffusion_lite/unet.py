"""Denoisers: networks that take (x_t, t) and predict the noise. A model never sees betas.

``MLPDenoiser`` is for 2-D points (chapters 2–3); the image U-Net of chapter 4 joins it here.
"""

from __future__ import annotations

import torch
from torch import nn

from ._validate import check_positive_int
from .nn import timestep_embedding


class _ResidualMLPBlock(nn.Module):
    """h + MLP(norm(h) + time features): one residual block of the point denoiser."""

    def __init__(self, hidden: int, time_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.time = nn.Linear(time_dim, hidden)
        self.mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, h: torch.Tensor, t_emb: torch.Tensor) -> torch.Tensor:
        return h + self.mlp(self.norm(h) + self.time(t_emb))


class MLPDenoiser(nn.Module):
    """A residual MLP for points of shape (B, dim), called as ``model(x_t, t, cond=None)``.

    The step t enters every block through a sinusoidal embedding. Chapters 2–3.
    """

    def __init__(self, dim: int = 2, hidden: int = 128, num_blocks: int = 3, time_dim: int = 64):
        super().__init__()
        check_positive_int("dim", dim)
        check_positive_int("hidden", hidden)
        check_positive_int("num_blocks", num_blocks)
        self.dim, self.time_dim = dim, time_dim
        self.time_mlp = nn.Sequential(nn.Linear(time_dim, time_dim), nn.SiLU())
        self.inp = nn.Linear(dim, hidden)
        self.blocks = nn.ModuleList(_ResidualMLPBlock(hidden, time_dim) for _ in range(num_blocks))
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.SiLU(), nn.Linear(hidden, dim))

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond=None) -> torch.Tensor:
        if cond is not None:
            raise ValueError("cond: MLPDenoiser is unconditional, expected None")
        if x_t.ndim != 2 or x_t.shape[1] != self.dim:
            raise ValueError(f"x_t: expected shape (B, {self.dim}), got {tuple(x_t.shape)}")
        t_emb = self.time_mlp(timestep_embedding(t, self.time_dim))   # (B, time_dim)
        h = self.inp(x_t)                                             # (B, hidden)
        for block in self.blocks:
            h = block(h, t_emb)
        return self.out(h)                                            # (B, dim)
