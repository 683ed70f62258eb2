"""Denoisers for data that is not an image (chapter 13), beside ``unet``'s: called as
``model(x_t, t, cond=None)`` like every denoiser, with the step t entering every block.

``SequenceDenoiser`` reads sequences (B, channels, L) of any length (waveforms, trajectories)
with dilated 1-D convolutions, as DiffWave does; ``PointSetDenoiser`` reads sets of points
(B, N, dim) with self-attention and no positions, so it treats the points as a set.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_positive_int, check_tensor
from .nn import group_norm, timestep_embedding
from .schedules import batch_timesteps


def _time_features(t, x_t: torch.Tensor, time_dim: int, mlp: nn.Module) -> torch.Tensor:
    """The step t (an int or a (B,) tensor) as (B, hidden) features."""
    t = batch_timesteps(t, x_t.shape[0], x_t.device)
    return mlp(timestep_embedding(t, time_dim))


def _check_time_dim(time_dim) -> None:
    check_positive_int("time_dim", time_dim, minimum=2)
    if time_dim % 2:
        raise ValueError(f"time_dim: expected an even number (sin and cos features), got {time_dim}")


def _check_input(model: nn.Module, x_t, cond, expected: str, fits) -> None:
    """Refuse a condition, and an ``x_t`` that is not a finite tensor for which ``fits(x_t)``."""
    if cond is not None:
        raise ValueError(f"cond: {type(model).__name__} is unconditional, expected None")
    check_tensor("x_t", x_t)
    if not fits(x_t):
        raise ValueError(f"x_t: expected shape {expected}, got {tuple(x_t.shape)}")


# ----------------------------------------------------------------------------- sequences


class _DilatedBlock(nn.Module):
    """A pre-activation residual block in 1-D: norm -> SiLU -> dilated conv, plus the step's
    features, then norm -> SiLU -> dilated conv, added to the input (the 2-D ``ResidualBlock``
    of chapter 4 with DiffWave's dilations; Kong et al. 2021). The convolutions are
    non-causal: each frame sees ``dilation`` frames to either side."""

    def __init__(self, hidden: int, dilation: int):
        super().__init__()
        self.norm1, self.norm2 = group_norm(hidden), group_norm(hidden)
        self.conv1 = nn.Conv1d(hidden, hidden, 3, padding=dilation, dilation=dilation)
        self.time = nn.Linear(hidden, hidden)
        self.conv2 = nn.Conv1d(hidden, hidden, 3, padding=dilation, dilation=dilation)

    def forward(self, h: torch.Tensor, t_emb: torch.Tensor) -> torch.Tensor:
        r = self.conv1(F.silu(self.norm1(h))) + self.time(t_emb)[:, :, None]    # (B, hidden, L)
        return h + self.conv2(F.silu(self.norm2(r)))


class SequenceDenoiser(nn.Module):
    """A DiffWave-like network (Kong et al. 2021) for sequences (B, channels, L) of any length
    L: ``num_layers`` residual blocks of dilated convolutions, dilations 1, 2, 4, ... doubling
    up to ``max_dilation`` and starting over, so that through the convolutions one output frame
    sees ``receptive_field`` input frames around it. The step t is added in every block. Unlike
    DiffWave's gated units, each block normalises first (GroupNorm): in the few hundred steps a
    CPU affords, that reaches about half the gated network's loss at low noise. Waveforms
    (channels = 1) and 2-D trajectories (channels = 2). Chapter 13."""

    def __init__(self, channels: int, *, hidden: int = 32, num_layers: int = 6,
                 max_dilation: int = 32, time_dim: int = 32):
        super().__init__()
        for name, value in [("channels", channels), ("hidden", hidden),
                            ("num_layers", num_layers), ("max_dilation", max_dilation)]:
            check_positive_int(name, value)
        _check_time_dim(time_dim)
        self.channels, self.time_dim = channels, time_dim
        self.time_mlp = nn.Sequential(nn.Linear(time_dim, hidden), nn.SiLU(),
                                      nn.Linear(hidden, hidden), nn.SiLU())
        self.inp = nn.Conv1d(channels, hidden, 3, padding=1)
        dilations = [2 ** (i % max_dilation.bit_length()) for i in range(num_layers)]
        self.blocks = nn.ModuleList(_DilatedBlock(hidden, d) for d in dilations)
        self.out = nn.Sequential(group_norm(hidden), nn.SiLU(), nn.Conv1d(hidden, channels, 3, padding=1))

    @property
    def receptive_field(self) -> int:
        """How many input frames one output frame sees through the convolutions (each block's
        GroupNorm also mixes in the whole sequence's mean and spread)."""
        return 5 + 4 * sum(block.conv1.dilation[0] for block in self.blocks)

    def forward(self, x_t: torch.Tensor, t, cond=None) -> torch.Tensor:
        _check_input(self, x_t, cond, f"(B, {self.channels}, L)",
                     lambda x: x.ndim == 3 and x.shape[1] == self.channels and x.shape[2] >= 1)
        t_emb = _time_features(t, x_t, self.time_dim, self.time_mlp)    # (B, hidden)
        h = self.inp(x_t)                                               # (B, hidden, L)
        for block in self.blocks:
            h = block(h, t_emb)
        return self.out(h)                                              # (B, channels, L)


# ----------------------------------------------------------------------------- point sets


class _SetBlock(nn.Module):
    """A pre-norm transformer block over the points, with the step's features added first:
    self-attention (every point looks at every other, none has a position), then a per-point
    MLP, each with a residual connection (Lee et al. 2019's set attention block)."""

    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.heads = heads
        self.time = nn.Linear(hidden, hidden)
        self.norm1, self.qkv, self.proj = nn.LayerNorm(hidden), nn.Linear(hidden, 3 * hidden), nn.Linear(hidden, hidden)
        self.norm2 = nn.LayerNorm(hidden)
        self.mlp = nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.SiLU(), nn.Linear(2 * hidden, hidden))

    def forward(self, h: torch.Tensor, t_emb: torch.Tensor) -> torch.Tensor:
        b, n, c = h.shape
        h = h + self.time(t_emb)[:, None, :]                                       # (B, N, hidden)
        q, k, v = (part.reshape(b, n, self.heads, c // self.heads).transpose(1, 2)
                   for part in self.qkv(self.norm1(h)).chunk(3, dim=-1))           # (B, heads, N, d)
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, c)
        h = h + self.proj(attended)
        return h + self.mlp(self.norm2(h))


class PointSetDenoiser(nn.Module):
    """A small set transformer for point clouds (B, N, dim): a per-point linear embedding,
    ``num_layers`` blocks of self-attention and per-point MLPs, a per-point output. With no
    positional encoding it is permutation-equivariant: permuting the input points permutes the
    predicted noise the same way, as a denoiser of a *set* must. Chapter 13."""

    def __init__(self, dim: int = 3, *, hidden: int = 48, num_layers: int = 3, heads: int = 4,
                 time_dim: int = 32):
        super().__init__()
        for name, value in [("dim", dim), ("hidden", hidden), ("num_layers", num_layers),
                            ("heads", heads)]:
            check_positive_int(name, value)
        _check_time_dim(time_dim)
        if hidden % heads:
            raise ValueError(f"heads: expected a divisor of hidden={hidden}, got {heads}")
        self.dim, self.time_dim = dim, time_dim
        self.time_mlp = nn.Sequential(nn.Linear(self.time_dim, hidden), nn.SiLU(),
                                      nn.Linear(hidden, hidden), nn.SiLU())
        self.inp = nn.Linear(dim, hidden)
        self.blocks = nn.ModuleList(_SetBlock(hidden, heads) for _ in range(num_layers))
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, dim))

    def forward(self, x_t: torch.Tensor, t, cond=None) -> torch.Tensor:
        _check_input(self, x_t, cond, f"(B, N, {self.dim})",
                     lambda x: x.ndim == 3 and x.shape[2] == self.dim and x.shape[1] >= 1)
        t_emb = _time_features(t, x_t, self.time_dim, self.time_mlp)    # (B, hidden)
        h = self.inp(x_t)                                               # (B, N, hidden)
        for block in self.blocks:
            h = block(h, t_emb)
        return self.out(h)                                              # (B, N, dim)
