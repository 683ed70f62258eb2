"""Training objectives: what the denoiser is asked to predict (chapter 2)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._validate import check_choice, check_tensor
from .schedules import NoiseSchedule, add_noise, check_timesteps, velocity


def _noisy_batch(schedule: NoiseSchedule, x0, t, noise, generator):
    """Draw (t, noise) where not given and return (x_t, t, noise)."""
    check_tensor("x0", x0, min_ndim=1)
    if t is None:
        t = torch.randint(0, schedule.num_steps, (x0.shape[0],), generator=generator,
                          device="cpu").to(x0.device)
    check_timesteps(schedule, t, x0.shape[0])
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator, device="cpu").to(x0)
    return add_noise(schedule, x0, t, noise), t, noise


def _reduce(pred: torch.Tensor, target: torch.Tensor, reduction: str) -> torch.Tensor:
    check_choice("reduction", reduction, {"mean", "none"})
    per_sample = F.mse_loss(pred, target, reduction="none").flatten(1).mean(dim=1)   # (B,)
    return per_sample.mean() if reduction == "mean" else per_sample


def epsilon_loss(model, schedule: NoiseSchedule, x0: torch.Tensor, *, t=None, noise=None,
                 cond=None, generator: torch.Generator | None = None,
                 reduction: str = "mean") -> torch.Tensor:
    """The simple loss ||eps - eps_theta(x_t, t)||² (Ho et al. 2020, eq. 14, Algorithm 1).

    ``t`` and ``noise`` are drawn when not given; ``reduction="none"`` gives one loss per
    sample. Chapter 2.
    """
    x_t, t, noise = _noisy_batch(schedule, x0, t, noise, generator)
    return _reduce(model(x_t, t, cond=cond), noise, reduction)


def x0_loss(model, schedule: NoiseSchedule, x0: torch.Tensor, *, t=None, noise=None,
            cond=None, generator: torch.Generator | None = None,
            reduction: str = "mean") -> torch.Tensor:
    """||x0 - x0_theta(x_t, t)||²: the model predicts the clean sample. Chapter 2."""
    x_t, t, noise = _noisy_batch(schedule, x0, t, noise, generator)
    return _reduce(model(x_t, t, cond=cond), x0, reduction)


def v_loss(model, schedule: NoiseSchedule, x0: torch.Tensor, *, t=None, noise=None,
           cond=None, generator: torch.Generator | None = None,
           reduction: str = "mean") -> torch.Tensor:
    """||v - v_theta(x_t, t)||² with v = sqrt(alpha_bar) eps - sqrt(1 - alpha_bar) x0
    (Salimans & Ho 2022). Chapter 2."""
    x_t, t, noise = _noisy_batch(schedule, x0, t, noise, generator)
    return _reduce(model(x_t, t, cond=cond), velocity(schedule, x0, t, noise), reduction)
