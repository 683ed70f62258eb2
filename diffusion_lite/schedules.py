"""Noise schedules and the closed-form identities of the forward process (chapters 1–2).

A schedule is a list of betas, beta_t = variance added at step t. Everything else follows:
alpha_t = 1 - beta_t and alpha_bar_t = prod_{s<=t} alpha_s, so that
q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I)   (Ho et al. 2020, eq. 4).

Steps are numbered as in the papers: x_0 is the data, t = 1 ... T are the noising steps, and
every per-step array of a ``NoiseSchedule`` has T + 1 entries indexed by t itself, index 0
being the clean end (beta_0 = 0, alpha_bar_0 = 1). A formula printed in the book, evaluated at
the code's t, is what the code computes. diffusers' timestep k is our t = k + 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ._validate import (
    check_choice,
    check_floating,
    check_positive_int,
    check_same_shape,
    check_tensor,
    checking_values,
)

# ----------------------------------------------------------------------------- betas


def linear_betas(num_steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """Betas rising linearly from ``beta_start`` to ``beta_end`` (Ho et al. 2020, sec. 4). Chapter 1."""
    check_positive_int("num_steps", num_steps)
    if not 0.0 < beta_start <= beta_end < 1.0:
        raise ValueError("beta_start, beta_end: expected 0 < beta_start <= beta_end < 1, "
                         f"got {beta_start}, {beta_end}")
    return torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64)


def _betas_from_alpha_bar(alpha_bar, num_steps: int, max_beta: float) -> torch.Tensor:
    """beta_t = 1 - f(t / T) / f((t - 1) / T) for t = 1 ... T, from a continuous f on [0, 1]
    with f(0) > 0, clipped at ``max_beta``: so alpha_bar_t = f(t / T) / f(0) wherever no clip acts."""
    u = torch.arange(num_steps + 1, dtype=torch.float64) / num_steps    # (T+1,)
    a = alpha_bar(u)
    return (1.0 - a[1:] / a[:-1]).clamp(max=max_beta)


def cosine_betas(num_steps: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Betas of the cosine schedule (Nichol & Dhariwal 2021, eq. 17): with
    f(t) = cos²((t/T + s)/(1 + s) · π/2), beta_t = min(1 - f(t)/f(t-1), max_beta), t = 1 ... T,
    so that alpha_bar_t = f(t)/f(0) except at the last step, where the clip acts. Chapter 1."""
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
    """betas, alphas and alpha_bars of one schedule for t = 0 ... T, indexed by t (index 0 is
    the clean end: beta_0 = 0, alpha_0 = alpha_bar_0 = 1). Computed in float64, stored as
    float32; 1 - alpha_bar is computed with expm1, so it keeps its precision at small t."""

    betas: torch.Tensor                 # (T+1,) variance added at step t; betas[0] = 0
    alphas: torch.Tensor                # (T+1,) 1 - betas
    alpha_bars: torch.Tensor            # (T+1,) signal kept after t steps; alpha_bars[0] = 1
    one_minus_alpha_bars: torch.Tensor  # (T+1,) noise variance after t steps; [0] = 0
    _moved: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_betas(cls, betas: torch.Tensor) -> NoiseSchedule:
        """Build a schedule from beta_1 ... beta_T, a 1-D tensor of T values in (0, 1)."""
        check_tensor("betas", betas, ndim=1)
        betas64 = betas.detach().to(torch.float64)
        if not ((betas64 > 0) & (betas64 < 1)).all():
            raise ValueError(f"betas: expected every value in (0, 1), got min {betas64.min():.3g}, "
                             f"max {betas64.max():.3g}")
        betas64 = torch.cat([betas64.new_zeros(1), betas64])                 # beta_0 = 0
        log_alpha_bars = torch.cumsum(torch.log1p(-betas64), dim=0)          # log alpha_bar_0 = 0
        alpha_bars = log_alpha_bars.exp()
        if alpha_bars[-1] < 1e-30:
            first = int((alpha_bars < 1e-30).nonzero()[0])
            raise ValueError(f"betas: alpha_bar falls below 1e-30 at step {first} and would "
                             "underflow float32; use fewer steps or smaller betas")
        one_minus = -torch.expm1(log_alpha_bars)
        one_minus[0] = 0.0                                 # +0, not -0: SNR at t = 0 is +inf
        return cls(betas64.float(), (1.0 - betas64).float(), alpha_bars.float(), one_minus.float())

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
        """T, the number of noising steps."""
        return self.betas.shape[0] - 1

    @property
    def steps(self) -> torch.Tensor:
        """The noising steps 1, ..., T (a LongTensor), e.g. for plotting against t."""
        return torch.arange(1, self.num_steps + 1)

    def snr(self, t: torch.Tensor | None = None) -> torch.Tensor:
        """Signal-to-noise ratio alpha_bar_t / (1 - alpha_bar_t), for t = 0 ... T (infinite at
        t = 0) on the schedule's device, or for the steps ``t`` on their device. Computed in
        float64 on the CPU (Apple's MPS has no float64)."""
        snr = (self.alpha_bars.cpu().double() / self.one_minus_alpha_bars.cpu().double()).float()
        if t is None:
            return snr.to(self.alpha_bars.device)
        return snr[check_timesteps(self, t, low=0).cpu()].to(t.device)

    def to(self, device) -> NoiseSchedule:
        """The schedule with its arrays on ``device``. Never needed by the samplers, which take
        what they need to the sample's device; refused for Apple's MPS, which has no float64
        for the identities computed from these arrays."""
        if torch.device(device).type == "mps":
            raise ValueError(f"device: expected a device with float64 arithmetic, got {device!r} "
                             "(MPS has none); keep the schedule on the CPU: the samplers and "
                             "losses move what they need to the sample's device")
        return NoiseSchedule(*(v.to(device) for v in (self.betas, self.alphas, self.alpha_bars,
                                                     self.one_minus_alpha_bars)))

    def for_loop_on(self, device) -> NoiseSchedule:
        """The schedule that a sampler's loop or a loss uses on ``device``: moved there once and
        kept (on a GPU, picking a step's coefficients then needs no copy back to the host);
        itself on its own device, and on MPS, which has no float64."""
        device = torch.device(device)
        if device.type == "mps" or self.betas.device == device:
            return self
        if device not in self._moved:
            self._moved[device] = self.to(device)
        return self._moved[device]

# ----------------------------------------------------------------------------- helpers


def check_timesteps(schedule: NoiseSchedule, t, batch_size: int | None = None, *,
                    low: int = 1, name: str = "t") -> torch.Tensor:
    """Check that ``t`` is an integer tensor of steps in [low, T] (and of length ``batch_size``).
    ``low`` is 1 where a network or a division by 1 - alpha_bar_t needs a noisy step, 0 where
    the clean end t = 0 is meaningful."""
    if not isinstance(t, torch.Tensor) or t.dtype not in (torch.int64, torch.int32):
        got = f"{t.dtype}" if isinstance(t, torch.Tensor) else type(t).__name__
        raise TypeError(f"{name}: expected an integer tensor (torch.long), got {got}")
    if batch_size is not None and t.shape != (batch_size,):
        raise ValueError(f"{name}: expected shape ({batch_size},), one step per sample, "
                         f"got {tuple(t.shape)}")
    if checking_values() and t.numel() and (t.min() < low or t.max() > schedule.num_steps):
        raise ValueError(f"{name}: expected steps in [{low}, {schedule.num_steps}] "
                         f"(t = 1 ... T, the papers' numbering), got min {int(t.min())}, "
                         f"max {int(t.max())}")
    return t


def batch_timesteps(t, batch_size: int, device) -> torch.Tensor:
    """An int or a (B,) tensor of steps, as a (B,) LongTensor on ``device``."""
    if isinstance(t, int) and not isinstance(t, bool):
        return torch.full((batch_size,), t, dtype=torch.long, device=device)
    return t.to(device)


def extract(values: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """values[t] for each sample, shaped (B, 1, ..., 1) to broadcast against x."""
    picked = values[t] if values.device == t.device else values[t.cpu()]     # (B,)
    out = picked.to(device=x.device, dtype=x.dtype)
    return out.reshape(-1, *([1] * (x.ndim - 1)))                 # (B, 1, ..., 1)


def _check_batch(schedule: NoiseSchedule, x_name: str, x, t, other_name: str, other,
                 low: int = 1) -> None:
    check_floating(x_name, check_tensor(x_name, x, min_ndim=1))
    check_floating(other_name, check_tensor(other_name, other))
    check_same_shape(x_name, x, other_name, other)
    check_timesteps(schedule, t, x.shape[0], low=low)

# ----------------------------------------------------------------------------- identities


def add_noise(schedule: NoiseSchedule, x0: torch.Tensor, t: torch.Tensor,
              noise: torch.Tensor) -> torch.Tensor:
    """Sample q(x_t | x_0) in one shot: sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise
    (Ho et al. 2020, eq. 4), for t in 0 ... T (t = 0 gives x0 back). Chapter 1."""
    _check_batch(schedule, "x0", x0, t, "noise", noise, low=0)
    alpha_bar = extract(schedule.alpha_bars, t, x0)
    one_minus = extract(schedule.one_minus_alpha_bars, t, x0)
    return alpha_bar.sqrt() * x0 + one_minus.sqrt() * noise


def predict_x0(schedule: NoiseSchedule, x_t: torch.Tensor, t: torch.Tensor,
               eps: torch.Tensor) -> torch.Tensor:
    """Invert add_noise for x0 given the noise: (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)
    (Ho et al. 2020, eq. 15). Chapter 2."""
    _check_batch(schedule, "x_t", x_t, t, "eps", eps)
    alpha_bar = extract(schedule.alpha_bars, t, x_t)
    one_minus = extract(schedule.one_minus_alpha_bars, t, x_t)
    return (x_t - one_minus.sqrt() * eps) / alpha_bar.sqrt()


def predict_eps(schedule: NoiseSchedule, x_t: torch.Tensor, t: torch.Tensor,
                x0: torch.Tensor) -> torch.Tensor:
    """The noise that takes x0 to x_t: (x_t - sqrt(alpha_bar_t) x0) / sqrt(1 - alpha_bar_t). Chapter 2."""
    _check_batch(schedule, "x_t", x_t, t, "x0", x0)
    alpha_bar = extract(schedule.alpha_bars, t, x_t)
    one_minus = extract(schedule.one_minus_alpha_bars, t, x_t)
    return (x_t - alpha_bar.sqrt() * x0) / one_minus.sqrt()


def velocity(schedule: NoiseSchedule, x0: torch.Tensor, t: torch.Tensor,
             noise: torch.Tensor) -> torch.Tensor:
    """The v-prediction target sqrt(alpha_bar_t) noise - sqrt(1 - alpha_bar_t) x0
    (Salimans & Ho 2022, sec. 4). Chapter 2."""
    _check_batch(schedule, "x0", x0, t, "noise", noise)
    alpha_bar = extract(schedule.alpha_bars, t, x0)
    one_minus = extract(schedule.one_minus_alpha_bars, t, x0)
    return alpha_bar.sqrt() * noise - one_minus.sqrt() * x0


def eps_from_velocity(schedule: NoiseSchedule, x_t: torch.Tensor, t: torch.Tensor,
                      v: torch.Tensor) -> torch.Tensor:
    """The noise implied by a v-prediction: sqrt(1 - alpha_bar_t) x_t + sqrt(alpha_bar_t) v. Chapter 2."""
    _check_batch(schedule, "x_t", x_t, t, "v", v)
    alpha_bar = extract(schedule.alpha_bars, t, x_t)
    one_minus = extract(schedule.one_minus_alpha_bars, t, x_t)
    return one_minus.sqrt() * x_t + alpha_bar.sqrt() * v


def score_from_eps(schedule: NoiseSchedule, eps: torch.Tensor, t) -> torch.Tensor:
    """∇ log p_t(x_t) = -ε / sqrt(1 - ᾱ_t): the score is the noise estimate, rescaled
    (Song et al. 2021, "score SDE"). Chapter 10."""
    t = batch_timesteps(t, eps.shape[0], eps.device)
    return -eps / extract(schedule.one_minus_alpha_bars, t, eps).sqrt()


def eps_from_score(schedule: NoiseSchedule, score: torch.Tensor, t) -> torch.Tensor:
    """The inverse of ``score_from_eps``: ε = -sqrt(1 - ᾱ_t) · score. Chapter 10."""
    t = batch_timesteps(t, score.shape[0], score.device)
    return -extract(schedule.one_minus_alpha_bars, t, score).sqrt() * score


class EpsilonFromV(nn.Module):
    """A v-prediction network seen as an ε-network, so that every sampler can drive it:
    ε = sqrt(1 - ᾱ_t) x_t + sqrt(ᾱ_t) v (``eps_from_velocity``; Salimans & Ho 2022). Its x̂0
    stays well conditioned at high noise, where an ε-network's is divided by sqrt(ᾱ_t).
    Chapters 9–11."""

    def __init__(self, net: nn.Module, schedule: NoiseSchedule):
        super().__init__()
        self.net, self.schedule = net, schedule

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond=None) -> torch.Tensor:
        schedule = self.schedule.for_loop_on(t.device)
        return eps_from_velocity(schedule, x_t, t, self.net(x_t, t, cond=cond))


def posterior_mean_variance(schedule: NoiseSchedule, x0: torch.Tensor, x_t: torch.Tensor,
                            t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of q(x_{t-1} | x_t, x_0) (Ho et al. 2020, eqs. 6–7), t in 1 ... T:
    mean = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) x0
           + sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) x_t,
    variance beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t (0 at t = 1, where
    x_{t-1} = x_0 is known). Chapter 2."""
    _check_batch(schedule, "x0", x0, t, "x_t", x_t)
    # 1. the coefficients of eq. 7 for t = 1 ... T, in float64 (index 0 unused)
    betas, alphas = schedule.betas.double(), schedule.alphas.double()
    alpha_bars, one_minus = schedule.alpha_bars.double(), schedule.one_minus_alpha_bars.double()
    alpha_bar_prev = torch.cat([alpha_bars.new_ones(1), alpha_bars[:-1]])     # alpha_bar_{t-1}
    one_minus_prev = torch.cat([one_minus.new_zeros(1), one_minus[:-1]])      # 1 - alpha_bar_{t-1}
    denominator = one_minus.clamp(min=1e-300)
    coef_x0 = alpha_bar_prev.sqrt() * betas / denominator
    coef_xt = alphas.sqrt() * one_minus_prev / denominator
    beta_tilde = betas * one_minus_prev / denominator
    # 2. pick each sample's step and combine
    coef_x0, coef_xt, beta_tilde = (extract(v, t, x_t) for v in (coef_x0, coef_xt, beta_tilde))
    return coef_x0 * x0 + coef_xt * x_t, beta_tilde.expand_as(x_t)


# ----------------------------------------------------------------------------- flow matching


@dataclass(frozen=True)
class FlowPath:
    """Flow matching's straight path from data to noise, x_t = (1 - t) x0 + t noise for a
    continuous t in [0, 1], with velocity dx_t/dt = noise - x0 (Lipman et al. 2023; Liu et al.
    2023). The noise is at t = 1, as in SD3; the papers run time the other way. It plays the
    part of a ``NoiseSchedule`` for flow models: ``flow_matching_loss`` draws points on it and
    ``flow_sample`` walks it back on ``grid``. Chapter 10."""

    def interpolate(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = (1 - t) x0 + t noise, for a (B,) tensor ``t`` of floats in [0, 1]."""
        check_same_shape("x0", x0, "noise", noise)
        if not isinstance(t, torch.Tensor) or t.shape != (x0.shape[0],) or not t.is_floating_point():
            got = f"{t.dtype} of shape {tuple(t.shape)}" if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"t: expected a float tensor of shape ({x0.shape[0]},), got {got}")
        if checking_values() and ((t < 0) | (t > 1)).any():
            raise ValueError(f"t: expected times in [0, 1], got min {t.min().item()}, max {t.max().item()}")
        tt = t.reshape(-1, *([1] * (x0.ndim - 1))).to(x0)
        return (1 - tt) * x0 + tt * noise

    def velocity(self, x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """dx_t/dt = noise - x0, the same at every t: the flow-matching target."""
        check_same_shape("x0", x0, "noise", noise)
        return noise - x0

    def grid(self, num_steps: int) -> torch.Tensor:
        """``num_steps`` equal steps from t = 1 (noise) to t = 0 (data): num_steps + 1 times."""
        check_positive_int("num_steps", num_steps)
        return torch.linspace(1.0, 0.0, num_steps + 1, dtype=torch.float64)
