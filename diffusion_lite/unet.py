"""Denoisers: networks that take (x_t, t) and predict the noise. A model never sees betas.

``MLPDenoiser`` is for 2-D points (chapters 2–3); ``UNet`` is for images (chapter 4 onwards).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_positive_int, checking_values
from .nn import AttentionBlock, Downsample, ResidualBlock, Upsample, group_norm, timestep_embedding


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


# ----------------------------------------------------------------------------- the U-Net


@dataclass(frozen=True)
class UNetConfig:
    """The shape of a ``UNet``. The defaults make a small net for 8×8 digits."""

    image_size: int = 8                            # side of the square input, H = W
    in_channels: int = 1                           # image channels (1 grey, 3 RGB, 4 latent)
    base_channels: int = 16                        # channels at full resolution
    channel_mults: tuple[int, ...] = (1, 2)        # one level per entry: base × mult channels
    num_res_blocks: int = 1                        # residual blocks per level on the way down
    attention_resolutions: tuple[int, ...] = (4,)  # side lengths at which to self-attend
    num_heads: int = 4                             # attention heads
    dropout: float = 0.0                           # dropout inside residual blocks
    num_classes: int | None = None                 # class labels; label num_classes = "no class"
    context_dim: int | None = None                 # width of a cross-attention context, or None
    use_skips: bool = True                         # False zeroes the skips (chapter 4's ablation)


class _NoAttention(nn.Module):
    """Stands in for an AttentionBlock at resolutions without attention."""

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return x


class _Level(nn.Module):
    """One resolution of the U-Net: residual blocks, each followed by (maybe) attention, and a
    resampling layer (or none at the end of the path)."""

    def __init__(self, res: list, attn: list, resample: nn.Module | None):
        super().__init__()
        self.res, self.attn, self.resample = nn.ModuleList(res), nn.ModuleList(attn), resample


class UNet(nn.Module):
    """A compact U-Net (Ronneberger et al. 2015) as used for diffusion by Ho et al. (2020):
    residual blocks that receive the time embedding, self-attention at low resolution, skip
    connections between matching levels. Called as ``model(x_t, t, cond=None)``, where
    ``cond`` is a (B,) LongTensor of labels (if ``num_classes`` is set) or a (B, L, D) context
    (if ``context_dim`` is set). Chapter 4.
    """

    def __init__(self, config: UNetConfig = UNetConfig()):
        super().__init__()
        c = self.config = config
        levels = len(c.channel_mults)
        if c.image_size % 2 ** (levels - 1):
            raise ValueError(f"config.image_size: expected a multiple of 2^{levels - 1} for "
                             f"{levels} levels, got {c.image_size}")
        if c.num_classes is not None and c.context_dim is not None:
            raise ValueError("config: expected num_classes or context_dim, got both")
        emb_dim = 4 * c.base_channels
        self.time_mlp = nn.Sequential(nn.Linear(c.base_channels, emb_dim), nn.SiLU(),
                                      nn.Linear(emb_dim, emb_dim))
        self.class_emb = nn.Embedding(c.num_classes + 1, emb_dim) if c.num_classes else None
        self.conv_in = nn.Conv2d(c.in_channels, c.base_channels, 3, padding=1)

        def attention(channels: int, side: int) -> nn.Module:
            if side in c.attention_resolutions:
                return AttentionBlock(channels, c.num_heads, c.context_dim)
            return _NoAttention()

        # 1. down: per level, residual blocks (+ attention), then halve the side
        widths = [c.base_channels * m for m in c.channel_mults]
        skips, ch, self.down = [c.base_channels], c.base_channels, nn.ModuleList()
        for level, width in enumerate(widths):
            side = c.image_size // 2**level
            res, attn = [], []
            for _ in range(c.num_res_blocks):
                res.append(ResidualBlock(ch, width, emb_dim, c.dropout))
                attn.append(attention(width, side))
                ch = width
                skips.append(ch)
            last = level == levels - 1
            self.down.append(_Level(res, attn, None if last else Downsample(ch)))
            if not last:
                skips.append(ch)

        # 2. middle, at the lowest resolution
        side = c.image_size // 2 ** (levels - 1)
        self.mid = _Level([ResidualBlock(ch, ch, emb_dim, c.dropout),
                           ResidualBlock(ch, ch, emb_dim, c.dropout)],
                          [AttentionBlock(ch, c.num_heads, c.context_dim), _NoAttention()], None)

        # 3. up: mirror of the down path; every block also takes one skip connection
        self.up = nn.ModuleList()
        for level, width in reversed(list(enumerate(widths))):
            side = c.image_size // 2**level
            res, attn = [], []
            for _ in range(c.num_res_blocks + 1):
                res.append(ResidualBlock(ch + skips.pop(), width, emb_dim, c.dropout))
                attn.append(attention(width, side))
                ch = width
            self.up.append(_Level(res, attn, Upsample(ch) if level > 0 else None))

        self.norm_out = group_norm(ch)
        self.conv_out = nn.Conv2d(ch, c.in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)           # start by predicting zero noise
        nn.init.zeros_(self.conv_out.bias)

    def _check(self, x_t: torch.Tensor, cond) -> None:
        c = self.config
        expected = (c.in_channels, c.image_size, c.image_size)
        if x_t.ndim != 4 or tuple(x_t.shape[1:]) != expected:
            raise ValueError(f"x_t: expected shape (B, {', '.join(map(str, expected))}), "
                             f"got {tuple(x_t.shape)}")
        if cond is not None and c.num_classes is None and c.context_dim is None:
            raise ValueError("cond: this UNet is unconditional, expected None")
        if c.num_classes is not None and cond is not None:
            if not isinstance(cond, torch.Tensor) or cond.shape != (x_t.shape[0],) \
                    or cond.is_floating_point():
                got = (f"{cond.dtype} of shape {tuple(cond.shape)}" if isinstance(cond, torch.Tensor)
                       else type(cond).__name__)
                raise ValueError(f"cond: expected ({x_t.shape[0]},) integer class labels, got {got}")
            if checking_values() and cond.numel() and (cond.min() < 0 or cond.max() > c.num_classes):
                raise ValueError(f"cond: expected class labels in [0, {c.num_classes - 1}] (or "
                                 f"{c.num_classes}, the null class), got min {int(cond.min())}, "
                                 f"max {int(cond.max())}")

    def embed(self, t: torch.Tensor, cond=None) -> torch.Tensor:
        """The per-sample vector every residual block receives: time (+ class). (B, 4·base)."""
        emb = self.time_mlp(timestep_embedding(t, self.config.base_channels))
        if self.class_emb is not None:
            if cond is None:                           # no label: the "no class" embedding
                cond = torch.full_like(t, self.config.num_classes)
            emb = emb + self.class_emb(cond)
        return emb

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond=None) -> torch.Tensor:
        self._check(x_t, cond)
        emb = self.embed(t, cond)                                   # (B, 4·base)
        context = cond if self.config.context_dim is not None else None
        h = self.conv_in(x_t)                                       # (B, base, H, W)
        skips = [h]
        for level in self.down:                                     # H, W halve per level
            for res, attn in zip(level.res, level.attn):
                h = attn(res(h, emb), context)
                skips.append(h)
            if level.resample is not None:
                h = level.resample(h)
                skips.append(h)
        for res, attn in zip(self.mid.res, self.mid.attn):           # lowest resolution
            h = attn(res(h, emb), context)
        for level in self.up:                                       # H, W double per level
            for res, attn in zip(level.res, level.attn):
                skip = skips.pop()
                if not self.config.use_skips:
                    skip = torch.zeros_like(skip)
                h = attn(res(torch.cat([h, skip], dim=1), emb), context)
            if level.resample is not None:
                h = level.resample(h)
        return self.conv_out(F.silu(self.norm_out(h)))              # (B, C, H, W)


def layer_shapes(model: nn.Module, *inputs) -> list[tuple[str, tuple[int, ...]]]:
    """Run ``model(*inputs)`` and list (name, output shape) for every resampling, residual and
    attention block and the input/output convolutions, in the order they ran. Chapter 4."""
    kinds = (ResidualBlock, AttentionBlock, Downsample, Upsample, nn.Conv2d)
    shapes, hooks = [], []
    for name, module in model.named_modules():
        is_io_conv = isinstance(module, nn.Conv2d) and name in ("conv_in", "conv_out")
        if isinstance(module, kinds[:-1]) or is_io_conv:
            hooks.append(module.register_forward_hook(
                lambda m, args, out, name=name: shapes.append((name, tuple(out.shape)))))
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return shapes
