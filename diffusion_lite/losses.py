"""Training objectives: what the denoiser is asked to predict (chapter 2)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._random import rand, randint, randn_like
from ._validate import check_choice, check_tensor
from .schedules import FlowPath, NoiseSchedule, add_noise, check_timesteps, velocity


def _noisy_batch(schedule: NoiseSchedule, x0, t, noise, generator):
    """Draw (t uniform on 1 ... T, noise) where not given and return (x_t, t, noise, the
    schedule on x0's device)."""
    check_tensor("x0", x0, min_ndim=1)
    if t is None:
        t = randint(1, schedule.num_steps + 1, x0.shape[0], generator, x0.device)
    check_timesteps(schedule, t, x0.shape[0])
    if noise is None:
        noise = randn_like(x0, generator)
    schedule = schedule.for_loop_on(x0.device)
    return add_noise(schedule, x0, t, noise), t, noise, schedule


def _reduce(pred: torch.Tensor, target: torch.Tensor, reduction: str) -> torch.Tensor:
    check_choice("reduction", reduction, {"mean", "none"})
    per_sample = F.mse_loss(pred, target, reduction="none").flatten(1).mean(dim=1)   # (B,)
    return per_sample.mean() if reduction == "mean" else per_sample


def epsilon_loss(model, schedule: NoiseSchedule, x0: torch.Tensor, *, t=None, noise=None,
                 cond=None, generator: torch.Generator | None = None,
                 reduction: str = "mean") -> torch.Tensor:
    """The simple loss (1/d) ||eps - eps_theta(x_t, t)||²: Ho et al. 2020, eq. 14 (Algorithm 1)
    averaged over the d coordinates of a sample, then over the batch.

    ``t`` and ``noise`` are drawn when not given; ``reduction="none"`` gives one loss per
    sample (still averaged over its coordinates). Chapter 2.
    """
    x_t, t, noise, _ = _noisy_batch(schedule, x0, t, noise, generator)
    return _reduce(model(x_t, t, cond=cond), noise, reduction)


def x0_loss(model, schedule: NoiseSchedule, x0: torch.Tensor, *, t=None, noise=None,
            cond=None, generator: torch.Generator | None = None,
            reduction: str = "mean") -> torch.Tensor:
    """(1/d) ||x0 - x0_theta(x_t, t)||²: the model predicts the clean sample. Chapter 2."""
    x_t, t, noise, _ = _noisy_batch(schedule, x0, t, noise, generator)
    return _reduce(model(x_t, t, cond=cond), x0, reduction)


def v_loss(model, schedule: NoiseSchedule, x0: torch.Tensor, *, t=None, noise=None,
           cond=None, generator: torch.Generator | None = None,
           reduction: str = "mean") -> torch.Tensor:
    """(1/d) ||v - v_theta(x_t, t)||² with v = sqrt(alpha_bar) eps - sqrt(1 - alpha_bar) x0
    (Salimans & Ho 2022). Chapter 2."""
    x_t, t, noise, schedule = _noisy_batch(schedule, x0, t, noise, generator)
    return _reduce(model(x_t, t, cond=cond), velocity(schedule, x0, t, noise), reduction)


def kl_to_standard_normal(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL( N(mean, exp(logvar)) || N(0, I) ) per sample, summed over latent dimensions. (B,)"""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).flatten(1).sum(dim=1)


def vae_loss(vae, x: torch.Tensor, *, kl_weight: float = 1e-3,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
    """Reconstruction (squared error summed per image) + ``kl_weight`` × KL to N(0, I), averaged
    over the batch (Kingma & Welling 2014). A small weight keeps reconstructions sharp and the
    latent close to Gaussian, as latent diffusion's autoencoders do. Returns the loss and its
    two parts. Chapter 9."""
    check_tensor("x", x, min_ndim=2)
    if kl_weight < 0:
        raise ValueError(f"kl_weight: expected a value >= 0, got {kl_weight}")
    reconstruction, mean, logvar = vae(x, generator=generator)
    rec = (reconstruction - x).pow(2).flatten(1).sum(dim=1).mean()
    kl = kl_to_standard_normal(mean, logvar).mean()
    return rec + kl_weight * kl, {"reconstruction": rec.item(), "kl": kl.item()}


def flow_matching_loss(model, path: FlowPath, x0: torch.Tensor, *, t=None, noise=None,
                       cond=None, generator: torch.Generator | None = None,
                       reduction: str = "mean") -> torch.Tensor:
    """Conditional flow matching on ``path``, the straight line x_t = (1 - t) x0 + t noise
    with t uniform in [0, 1] (Lipman et al. 2023; rectified flow, Liu et al. 2023): the network
    predicts the velocity dx_t/dt = noise - x0. ``model(x_t, t, cond)`` receives t as floats.
    Chapter 10."""
    check_tensor("x0", x0, min_ndim=1)
    if not isinstance(path, FlowPath):
        raise TypeError(f"path: expected a FlowPath, got {type(path).__name__}")
    if t is None:
        t = rand(x0.shape[0], generator, x0.device)
    if noise is None:
        noise = randn_like(x0, generator)
    x_t = path.interpolate(x0, t, noise)
    return _reduce(model(x_t, t, cond=cond), path.velocity(x0, noise), reduction)


# ----------------------------------------------------------------------------- condition dropout


def drop_labels(labels: torch.Tensor, p: float, null_class: int,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace each label by ``null_class`` with probability ``p``, so that one network learns
    the conditional and the unconditional prediction (Ho & Salimans 2021). Chapter 7."""
    drop = torch.rand(labels.shape, generator=generator) < p
    return torch.where(drop.to(labels.device), torch.full_like(labels, null_class), labels)


def drop_prompts(ids: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace each prompt by the empty prompt (all padding) with probability ``p``. Chapter 8."""
    drop = torch.rand(len(ids), generator=generator) < p
    return torch.where(drop.to(ids.device)[:, None], torch.zeros_like(ids), ids)
