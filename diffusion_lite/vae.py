"""A small convolutional VAE: the autoencoder of latent diffusion, at toy size (chapter 9).

The encoder maps an image (B, C, H, W) to the mean and log-variance of a Gaussian over latents
(B, latent_channels, H / f, W / f), with f = 2 ** len(channel_mults) the downsampling factor; the
decoder maps a latent back to an image. Latent diffusion (Rombach et al. 2022) trains the VAE
first, then a diffusion model on its latents, scaled to unit variance by ``latent_scale``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ._random import randn_like
from ._validate import check_tensor
from .nn import group_norm


@dataclass(frozen=True)
class VAEConfig:
    image_size: int = 16              # side of the (square) input images
    in_channels: int = 3              # image channels
    base_channels: int = 32           # channels after the first convolution
    channel_mults: tuple = (1, 2)     # one downsampling by 2 per entry: f = 2 ** len(...)
    latent_channels: int = 4          # channels of the latent

    @property
    def factor(self) -> int:
        return 2 ** len(self.channel_mults)

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        side = self.image_size // self.factor
        return (self.latent_channels, side, side)


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(group_norm(c_in), nn.SiLU(), nn.Conv2d(c_in, c_out, 3, padding=1))


class VAE(nn.Module):
    """``encode(x) -> (mean, logvar)``, ``decode(z) -> x``, ``forward(x) -> (x_rec, mean, logvar)``."""

    def __init__(self, config: VAEConfig = VAEConfig()):
        super().__init__()
        c = config
        if c.image_size % c.factor:
            raise ValueError(f"config: image_size={c.image_size} is not divisible by the "
                             f"downsampling factor {c.factor}")
        self.config = c
        widths = [c.base_channels * m for m in c.channel_mults]
        down, ch = [nn.Conv2d(c.in_channels, c.base_channels, 3, padding=1)], c.base_channels
        for w in widths:                                     # halve the side at each width
            down += [_block(ch, w), nn.Conv2d(w, w, 3, stride=2, padding=1)]
            ch = w
        down += [_block(ch, ch), group_norm(ch), nn.SiLU(), nn.Conv2d(ch, 2 * c.latent_channels, 1)]
        self.encoder = nn.Sequential(*down)
        up = [nn.Conv2d(c.latent_channels, ch, 3, padding=1), _block(ch, ch)]
        for w in reversed(widths):                           # double the side at each width
            up += [nn.Upsample(scale_factor=2.0, mode="nearest"), _block(ch, w)]
            ch = w
        up += [group_norm(ch), nn.SiLU(), nn.Conv2d(ch, c.in_channels, 3, padding=1)]
        self.decoder = nn.Sequential(*up)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_tensor("x", x, ndim=4)
        expected = (self.config.in_channels, self.config.image_size, self.config.image_size)
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"x: expected images of shape (B, {', '.join(map(str, expected))}), "
                             f"got {tuple(x.shape)}")
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        check_tensor("z", z, ndim=4)
        if tuple(z.shape[1:]) != self.config.latent_shape:
            raise ValueError(f"z: expected latents of shape (B, {self.config.latent_shape}), "
                             f"got {tuple(z.shape)}")
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """Reconstruct ``x`` through a sampled latent (the reparameterisation trick)."""
        mean, logvar = self.encode(x)
        noise = randn_like(mean, generator)
        z = mean + (0.5 * logvar).exp() * noise
        return self.decode(z), mean, logvar


@torch.no_grad()
def latent_scale(vae: VAE, images: torch.Tensor) -> float:
    """1 / std of the latent means of ``images``: multiply latents by it so that diffusion sees
    unit variance, as Stable Diffusion does with its factor 0.18215."""
    mean, _ = vae.encode(images)
    return 1.0 / mean.std().item()
