"""Building blocks shared by the denoisers (chapters 2 and 4)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal features of integer steps, as the Transformer's positions
    (Vaswani et al. 2017, sec. 3.5; used for t by Ho et al. 2020, appendix B). (B,) -> (B, dim)."""
    if dim % 2:
        raise ValueError(f"dim: expected an even number of features, got {dim}")
    if not isinstance(t, torch.Tensor) or t.ndim != 1:
        got = f"shape {tuple(t.shape)}" if isinstance(t, torch.Tensor) else type(t).__name__
        raise TypeError(f"t: expected a (B,) tensor of steps, one per sample, such as "
                        f"torch.full((B,), 500), got {got}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)  # (half,)
    angles = t.float()[:, None] * freqs[None, :]                                          # (B, half)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)                       # (B, dim)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention of queries q (..., N, d) to keys k and values v (..., L, d):
    the output softmax(q kᵀ / sqrt(d)) v, (..., N, d), and the weights, (..., N, L), whose rows
    (one query over the L keys) sum to 1 (Vaswani et al. 2017, eq. 1). Chapter 8."""
    for name, value in (("q", q), ("k", k), ("v", v)):
        if not isinstance(value, torch.Tensor) or value.ndim < 2:
            got = f"shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__
            raise TypeError(f"{name}: expected a tensor (..., length, d), got {got}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"q, k, v: expected q (..., N, d), k (..., L, d) and v (..., L, d'), got "
                         f"{tuple(q.shape)}, {tuple(k.shape)} and {tuple(v.shape)}")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])                # (..., N, L)
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


# ----------------------------------------------------------------------------- image blocks


def group_norm(channels: int, max_groups: int = 8) -> nn.GroupNorm:
    """GroupNorm with as many groups (up to ``max_groups``) as divide ``channels``."""
    groups = max(g for g in range(1, max_groups + 1) if channels % g == 0)
    return nn.GroupNorm(groups, channels)


class ResidualBlock(nn.Module):
    """norm -> SiLU -> conv, plus the time embedding, twice, with a skip connection
    (Ho et al. 2020, appendix B; the block of Wide ResNets). Chapter 4."""

    def __init__(self, in_channels: int, out_channels: int, emb_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.conv1 = group_norm(in_channels), nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.emb = nn.Linear(emb_dim, out_channels)
        self.norm2, self.conv2 = group_norm(out_channels), nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.skip = (nn.Identity() if in_channels == out_channels
                     else nn.Conv2d(in_channels, out_channels, 1))

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))                     # (B, C_out, H, W)
        h = h + self.emb(F.silu(emb))[:, :, None, None]           # add the time (and class) signal
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class AttentionBlock(nn.Module):
    """Self-attention over the H×W positions, then optional cross-attention to a context
    sequence (text tokens, chapter 8), each with a residual connection. Chapter 4."""

    def __init__(self, channels: int, num_heads: int = 4, context_dim: int | None = None):
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"num_heads: expected a divisor of channels={channels}, got {num_heads}")
        self.num_heads = num_heads
        self.norm = group_norm(channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)
        self.cross = None
        self.keep_attention_maps = False   # set True to keep the last cross-attention weights
        self.attention_maps = None         # (B, H*W, L), averaged over heads (chapter 8)
        if context_dim is not None:
            self.cross_norm = nn.LayerNorm(channels)
            self.cross = nn.MultiheadAttention(channels, num_heads, kdim=context_dim,
                                               vdim=context_dim, batch_first=True)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        return x.reshape(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)  # (B, heads, N, d)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = self.norm(x).flatten(2).transpose(1, 2)                 # (B, H*W, C)
        q, k, v = (self._heads(part) for part in self.qkv(tokens).chunk(3, dim=-1))
        attended = F.scaled_dot_product_attention(q, k, v)               # (B, heads, H*W, d)
        out = self.proj(attended.transpose(1, 2).reshape(b, h * w, c))   # (B, H*W, C)
        if self.cross is not None:
            if context is None:
                raise ValueError("context: this block cross-attends, expected (B, L, D), got None")
            query = self.cross_norm(tokens + out)
            attended, weights = self.cross(query, context, context,
                                           need_weights=self.keep_attention_maps)
            if self.keep_attention_maps:
                self.attention_maps = weights.detach()
            out = out + attended
        return x + out.transpose(1, 2).reshape(b, c, h, w)


class Downsample(nn.Module):
    """Halve H and W with a strided 3×3 convolution."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Double H and W: nearest-neighbour upsampling, then a 3×3 convolution."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
