"""A small generative adversarial network for 2-D points: the baseline diffusion replaced
(chapter 12).

A generator maps noise z to a point; a discriminator maps a point to a logit, the log-odds
that it is real (Goodfellow et al. 2014). ``train_gan`` alternates one discriminator step and
one generator step, with the non-saturating generator loss (Goodfellow et al. 2014, sec. 3)
and, optionally, the R1 gradient penalty on real data (Mescheder et al. 2018, eq. 9).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ._progress import progress_bar
from ._random import randn
from ._validate import check_floating, check_positive_int, check_tensor


def _mlp(dim_in: int, hidden: int, num_layers: int, dim_out: int, activation) -> nn.Sequential:
    layers, width = [], dim_in
    for _ in range(num_layers):
        layers += [nn.Linear(width, hidden), activation()]
        width = hidden
    return nn.Sequential(*layers, nn.Linear(width, dim_out))


class Generator(nn.Module):
    """An MLP from noise z ~ N(0, I) of ``latent_dim`` to a point of ``dim``. Chapter 12."""

    def __init__(self, dim: int = 2, latent_dim: int = 16, hidden: int = 128, num_layers: int = 3):
        super().__init__()
        for name, value in [("dim", dim), ("latent_dim", latent_dim), ("hidden", hidden),
                            ("num_layers", num_layers)]:
            check_positive_int(name, value)
        self.dim, self.latent_dim = dim, latent_dim
        self.net = _mlp(latent_dim, hidden, num_layers, dim, nn.ReLU)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z: expected shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        return self.net(z)                                           # (B, dim)

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` points from one network call on fresh noise drawn from ``generator``."""
        check_positive_int("n", n)
        device = next(self.parameters()).device
        with torch.no_grad():
            return self(randn((n, self.latent_dim), generator, device))


class Discriminator(nn.Module):
    """An MLP from a point of ``dim`` to one logit per point, shape (B,). Chapter 12."""

    def __init__(self, dim: int = 2, hidden: int = 128, num_layers: int = 3):
        super().__init__()
        for name, value in [("dim", dim), ("hidden", hidden), ("num_layers", num_layers)]:
            check_positive_int(name, value)
        self.dim = dim
        self.net = _mlp(dim, hidden, num_layers, 1, lambda: nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x: expected shape (B, {self.dim}), got {tuple(x.shape)}")
        return self.net(x).squeeze(1)                                # (B,)


# ----------------------------------------------------------------------------- losses


def _check_logits(name: str, logits) -> torch.Tensor:
    check_floating(name, check_tensor(name, logits, ndim=1))
    if len(logits) == 0:
        raise ValueError(f"{name}: expected at least one logit, got an empty tensor")
    return logits


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss -E log D(G(z)) = E softplus(-logit) (Goodfellow et al.
    2014, sec. 3): strong gradients where the discriminator rejects the fakes, unlike the
    minimax form E log(1 - D(G(z))), which saturates there. Chapter 12."""
    return F.softplus(-_check_logits("fake_logits", fake_logits)).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy, real labelled 1 and fake 0: -E log D(x) - E log(1 - D(G(z)))
    (Goodfellow et al. 2014, eq. 1). Chapter 12."""
    real_logits = _check_logits("real_logits", real_logits)
    fake_logits = _check_logits("fake_logits", fake_logits)
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def r1_penalty(discriminator: nn.Module, real: torch.Tensor) -> torch.Tensor:
    """E ||∇_x D(x)||² over real points x, D the logit (Mescheder et al. 2018, eq. 9, without
    its factor γ/2). Differentiable, so it can be added to the discriminator's loss. Chapter 12."""
    check_floating("real", check_tensor("real", real, ndim=2))
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(real).sum(), real, create_graph=True)
    return grad.pow(2).sum(dim=1).mean()


# ----------------------------------------------------------------------------- training


@dataclass
class GANHistory:
    """What ``train_gan`` records: one loss per step, and generator samples on fixed noise."""

    d_loss: list[float] = field(default_factory=list)            # its cross-entropy L_D, each step
    r1: list[float] = field(default_factory=list)                # its R1 penalty, each step (0 without)
    g_loss: list[float] = field(default_factory=list)            # generator loss, each step
    snapshot_steps: list[int] = field(default_factory=list)      # steps after which samples were kept
    snapshots: list[torch.Tensor] = field(default_factory=list)  # (N, dim) samples, on the CPU


def train_gan(generator_net: Generator, discriminator: Discriminator, data: torch.Tensor, *,
              steps: int, batch_size: int = 256, lr: float = 1e-3, r1_gamma: float = 0.0,
              betas: tuple[float, float] = (0.5, 0.999), snapshot_every: int | None = None,
              snapshot_noise: torch.Tensor | None = None,
              generator: torch.Generator | None = None, progress: bool = True) -> GANHistory:
    """Train a GAN for ``steps`` rounds of one discriminator and one generator Adam step on
    random batches of ``data`` (N, dim). ``r1_gamma`` > 0 adds (γ/2)·R1 to the discriminator's
    loss (Mescheder et al. 2018). Every ``snapshot_every`` steps the generator's output on
    ``snapshot_noise`` (default: 1,000 draws) is kept. Chapter 12."""
    check_positive_int("steps", steps)
    check_positive_int("batch_size", batch_size)
    check_floating("data", check_tensor("data", data, ndim=2))
    if len(data) == 0:
        raise ValueError("data: expected at least one training point, got an empty tensor")
    if data.shape[1] != generator_net.dim:
        raise ValueError(f"data: expected points of dim {generator_net.dim} like the generator's, "
                         f"got shape {tuple(data.shape)}")
    if not lr > 0:
        raise ValueError(f"lr: expected a positive learning rate, got {lr}")
    if not r1_gamma >= 0:
        raise ValueError(f"r1_gamma: expected a weight >= 0, got {r1_gamma}")
    if snapshot_every is not None:
        check_positive_int("snapshot_every", snapshot_every)
    device = next(generator_net.parameters()).device
    latent = generator_net.latent_dim
    if snapshot_noise is None and snapshot_every is not None:
        snapshot_noise = randn((1000, latent), generator, device)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas)
    opt_g = torch.optim.Adam(generator_net.parameters(), lr=lr, betas=betas)
    history = GANHistory()
    generator_net.train(), discriminator.train()
    for step in progress_bar(range(1, steps + 1), desc="train GAN", enabled=progress):
        # 1. the discriminator: real batch up, fake batch down, plus the R1 penalty on real points
        real = data[torch.randint(0, len(data), (batch_size,), generator=generator)].to(device)
        fake = generator_net(randn((batch_size, latent), generator, device)).detach()
        d_loss = discriminator_loss(discriminator(real), discriminator(fake))
        penalty = r1_penalty(discriminator, real) if r1_gamma > 0 else torch.zeros(())
        opt_d.zero_grad(set_to_none=True)
        (d_loss + r1_gamma / 2 * penalty).backward()
        opt_d.step()
        # 2. the generator: make fresh fakes that the updated discriminator calls real
        g_loss = generator_loss(discriminator(generator_net(randn((batch_size, latent), generator, device))))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        history.d_loss.append(d_loss.item())
        history.r1.append(penalty.item())
        history.g_loss.append(g_loss.item())
        # 3. a snapshot of the generator's samples on fixed noise
        if snapshot_every is not None and step % snapshot_every == 0:
            with torch.no_grad():
                history.snapshots.append(generator_net(snapshot_noise).cpu())
            history.snapshot_steps.append(step)
    generator_net.eval(), discriminator.eval()
    return history
