"""Noise schedules and the closed-form identities of the forward process (chapters 1–2).

A schedule is a list of betas, beta_t = variance added at step t. Everything else follows:
alpha_t = 1 - beta_t and alpha_bar_t = prod_{s<=t} alpha_s, so that
q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I)   (Ho et al. 2020, eq. 4).
Timesteps are 0-based: t = 0 is the first noising step, t = T-1 the last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ._validate import check_choice, check_positive_int, check_same_shape, check_tensor

# ----------------------------------------------------------------------------- betas


def linear_betas(num_steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """Betas rising linearly from ``beta_start`` to ``beta_end`` (Ho et al. 2020, sec. 4). Chapter 1."""
    check_positive_int("num_steps", num_steps)
    if not 0.0 < beta_start <= beta_end < 1.0:
        raise ValueError("beta_start, beta_end: expected 0 < beta_start <= beta_end < 1, "
                         f"got {beta_start}, {beta_end}")
    return torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64)


def _betas_from_alpha_bar(alpha_bar, num_steps: int, max_beta: float) -> torch.Tensor:
    """betas_t = 1 - alpha_bar(t+1) / alpha_bar(t), for a continuous alpha_bar on [0, 1]."""
    u = torch.arange(num_steps + 1, dtype=torch.float64) / num_steps    # (T+1,)
    a = alpha_bar(u)
    return (1.0 - a[1:] / a[:-1]).clamp(max=max_beta)


def cosine_betas(num_steps: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Betas of the cosine schedule, alpha_bar(u) ∝ cos²((u+s)/(1+s)·π/2)
    (Nichol & Dhariwal 2021, eq. 17), clipped at ``max_beta``. Chapter 1."""
    check_positive_int("num_steps", num_steps)
    return _betas_from_alpha_bar(
        lambda u: torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2, num_steps, max_beta)


def sigmoid_betas(num_steps: int, start: float = -3.0, end: float = 3.0, tau: float = 1.0,
                  max_beta: float = 0.999) -> torch.Tensor:
    """Betas of the sigmoid schedule, alpha_bar(u) from a rescaled sigmoid
    (Chen 2023, "On the importance of noise scheduling", Algorithm 1). Chapter 1."""
    check_positive_int("num_steps", num_steps)
    if not start < end or tau <= 0:
        raise ValueError(f"start, end, tau: expected start < end and tau > 0, got {start}, {end}, {tau}")
    v_start = torch.sigmoid(torch.tensor(start / tau, dtype=torch.float64))
    v_end = torch.sigmoid(torch.tensor(end / tau, dtype=torch.float64))

    def alpha_bar(u):
        return (v_end - torch.sigmoid((u * (end - start) + start) / tau)) / (v_end - v_start)

    return _betas_from_alpha_bar(alpha_bar, num_steps, max_beta)


SCHEDULE_NAMES = {"linear": linear_betas, "cosine": cosine_betas, "sigmoid": sigmoid_betas}

# ----------------------------------------------------------------------------- the schedule


@dataclass(frozen=True)
class NoiseSchedule:
    """betas, alphas and alpha_bars of one schedule, computed in float64, stored as float32."""

    betas: torch.Tensor       # (T,) variance added at each step
    alphas: torch.Tensor      # (T,) 1 - betas
    alpha_bars: torch.Tensor  # (T,) cumulative product of alphas: signal kept after step t

    @classmethod
    def from_betas(cls, betas: torch.Tensor) -> NoiseSchedule:
        """Build a schedule from any 1-D tensor of betas in (0, 1)."""
        check_tensor("betas", betas, ndim=1)
        betas64 = betas.detach().to(torch.float64)
        if not ((betas64 > 0) & (betas64 < 1)).all():
            raise ValueError(f"betas: expected every value in (0, 1), got min {betas64.min():.3g}, "
                             f"max {betas64.max():.3g}")
        alphas = 1.0 - betas64
        alpha_bars = torch.cumprod(alphas, dim=0)
        if alpha_bars[-1] < 1e-30:
            first = int((alpha_bars < 1e-30).nonzero()[0])
            raise ValueError(f"betas: alpha_bar falls below 1e-30 at step {first} and would "
                             "underflow float32; use fewer steps or smaller betas")
        return cls(betas64.float(), alphas.float(), alpha_bars.float())

    @classmethod
    def linear(cls, num_steps: int = 1000, **kwargs) -> NoiseSchedule:
        return cls.from_betas(linear_betas(num_steps, **kwargs))

    @classmethod
    def cosine(cls, num_steps: int = 1000, **kwargs) -> NoiseSchedule:
        return cls.from_betas(cosine_betas(num_steps, **kwargs))

    @classmethod
    def sigmoid(cls, num_steps: int = 1000, **kwargs) -> NoiseSchedule:
        return cls.from_betas(sigmoid_betas(num_steps, **kwargs))

    @classmethod
    def from_name(cls, name: str, num_steps: int = 1000, **kwargs) -> NoiseSchedule:
        """``"linear"``, ``"cosine"`` or ``"sigmoid"``."""
        check_choice("name", name, SCHEDULE_NAMES)
        return cls.from_betas(SCHEDULE_NAMES[name](num_steps, **kwargs))

    @property
    def num_steps(self) -> int:
        return self.betas.shape[0]

    def snr(self, t: torch.Tensor | None = None) -> torch.Tensor:
        """Signal-to-noise ratio alpha_bar_t / (1 - alpha_bar_t), for every step or for ``t``."""
        alpha_bars, one_minus = alpha_bar_terms(self)
        snr = (alpha_bars[1:] / one_minus[1:]).float()
        return snr if t is None else snr[check_timesteps(self, t).cpu()]

    def to(self, device) -> NoiseSchedule:
        return NoiseSchedule(self.betas.to(device), self.alphas.to(device), self.alpha_bars.to(device))

# ----------------------------------------------------------------------------- helpers


def check_timesteps(schedule: NoiseSchedule, t, batch_size: int | None = None) -> torch.Tensor:
    """Check that ``t`` is an integer tensor of steps in [0, T-1] (and of length ``batch_size``)."""
    if not isinstance(t, torch.Tensor) or t.dtype not in (torch.int64, torch.int32):
        got = f"{t.dtype}" if isinstance(t, torch.Tensor) else type(t).__name__
        raise TypeError(f"t: expected an integer tensor (torch.long), got {got}")
    if batch_size is not None and t.shape != (batch_size,):
        raise ValueError(f"t: expected shape ({batch_size},), one step per sample, "
                         f"got {tuple(t.shape)}")
    if t.numel() and (t.min() < 0 or t.max() >= schedule.num_steps):
        raise ValueError(f"t: expected steps in [0, {schedule.num_steps - 1}], "
                         f"got min {int(t.min())}, max {int(t.max())}")
    return t


def batch_timesteps(t, batch_size: int, device) -> torch.Tensor:
    """An int or a (B,) tensor of steps, as a (B,) LongTensor on ``device``."""
    if isinstance(t, int) and not isinstance(t, bool):
        return torch.full((batch_size,), t, dtype=torch.long, device=device)
    return t.to(device)


def extract(values: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """values[t] for each sample, shaped (B, 1, ..., 1) to broadcast against x."""
    out = values[t.cpu()].to(device=x.device, dtype=x.dtype)     # (B,), float64 stays on the CPU
    return out.reshape(-1, *([1] * (x.ndim - 1)))                 # (B, 1, ..., 1)


def _check_batch(schedule: NoiseSchedule, x_name: str, x, t, other_name: str, other) -> None:
    check_tensor(x_name, x, min_ndim=1)
    check_tensor(other_name, other)
    check_same_shape(x_name, x, other_name, other)
    check_timesteps(schedule, t, x.shape[0])

# ----------------------------------------------------------------------------- identities


def add_noise(schedule: NoiseSchedule, x0: torch.Tensor, t: torch.Tensor,
              noise: torch.Tensor) -> torch.Tensor:
    """Sample q(x_t | x_0) in one shot: sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise
    (Ho et al. 2020, eq. 4). Chapter 1."""
    _check_batch(schedule, "x0", x0, t, "noise", noise)
    alpha_bar = extract(schedule.alpha_bars, t, x0)
    return alpha_bar.sqrt() * x0 + (1.0 - alpha_bar).sqrt() * noise


def predict_x0(schedule: NoiseSchedule, x_t: torch.Tensor, t: torch.Tensor,
               eps: torch.Tensor) -> torch.Tensor:
    """Invert add_noise for x0 given the noise: (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)
    (Ho et al. 2020, eq. 15). Chapter 2."""
    _check_batch(schedule, "x_t", x_t, t, "eps", eps)
    alpha_bar = extract(schedule.alpha_bars, t, x_t)
    return (x_t - (1.0 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()


def predict_eps(schedule: NoiseSchedule, x_t: torch.Tensor, t: torch.Tensor,
                x0: torch.Tensor) -> torch.Tensor:
    """The noise that takes x0 to x_t: (x_t - sqrt(alpha_bar_t) x0) / sqrt(1 - alpha_bar_t). Chapter 2."""
    _check_batch(schedule, "x_t", x_t, t, "x0", x0)
    alpha_bar = extract(schedule.alpha_bars, t, x_t)
    return (x_t - alpha_bar.sqrt() * x0) / (1.0 - alpha_bar).sqrt()


def velocity(schedule: NoiseSchedule, x0: torch.Tensor, t: torch.Tensor,
             noise: torch.Tensor) -> torch.Tensor:
    """The v-prediction target sqrt(alpha_bar_t) noise - sqrt(1 - alpha_bar_t) x0
    (Salimans & Ho 2022, sec. 4). Chapter 2."""
    _check_batch(schedule, "x0", x0, t, "noise", noise)
    alpha_bar = extract(schedule.alpha_bars, t, x0)
    return alpha_bar.sqrt() * noise - (1.0 - alpha_bar).sqrt() * x0


def eps_from_velocity(schedule: NoiseSchedule, x_t: torch.Tensor, t: torch.Tensor,
                      v: torch.Tensor) -> torch.Tensor:
    """The noise implied by a v-prediction: sqrt(1 - alpha_bar_t) x_t + sqrt(alpha_bar_t) v. Chapter 2."""
    _check_batch(schedule, "x_t", x_t, t, "v", v)
    alpha_bar = extract(schedule.alpha_bars, t, x_t)
    return (1.0 - alpha_bar).sqrt() * x_t + alpha_bar.sqrt() * v


def alpha_bar_terms(schedule: NoiseSchedule) -> tuple[torch.Tensor, torch.Tensor]:
    """alpha_bar and 1 - alpha_bar in float64 for steps -1, 0, ..., T-1 (index t + 1), with
    alpha_bar_{-1} = 1. Computed from the betas via log1p/expm1, so that 1 - alpha_bar keeps its
    precision at small t, where it is a difference of two numbers close to 1."""
    log_alpha_bars = torch.cumsum(torch.log1p(-schedule.betas.double()), dim=0)
    log_alpha_bars = torch.cat([log_alpha_bars.new_zeros(1), log_alpha_bars])     # (T+1,)
    return log_alpha_bars.exp(), -torch.expm1(log_alpha_bars)


def posterior_mean_variance(schedule: NoiseSchedule, x0: torch.Tensor, x_t: torch.Tensor,
                            t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of q(x_{t-1} | x_t, x_0) (Ho et al. 2020, eqs. 6–7). At t = 0 the
    "previous" state is x_0 itself: the mean is x0 and the variance 0. Chapter 2."""
    _check_batch(schedule, "x0", x0, t, "x_t", x_t)
    # 1. the coefficients of eq. 7 for every step, in float64
    alpha_bars, one_minus = alpha_bar_terms(schedule)                  # index t + 1 is step t
    betas, alphas = schedule.betas.double(), schedule.alphas.double()
    coef_x0 = alpha_bars[:-1].sqrt() * betas / one_minus[1:]
    coef_xt = alphas.sqrt() * one_minus[:-1] / one_minus[1:]
    beta_tilde = betas * one_minus[:-1] / one_minus[1:]
    # 2. pick each sample's step and combine
    coef_x0, coef_xt, beta_tilde = (extract(v, t, x_t) for v in (coef_x0, coef_xt, beta_tilde))
    return coef_x0 * x0 + coef_xt * x_t, beta_tilde.expand_as(x_t)


def prev_alpha_bars(schedule: NoiseSchedule) -> torch.Tensor:
    """alpha_bar_{t-1} for each t, with alpha_bar_{-1} = 1 (no noise before the first step)."""
    return alpha_bar_terms(schedule)[0][:-1].float()
