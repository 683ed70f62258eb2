"""The differential-equation view of sampling (chapters 10–11).

A trained ε-network defines the probability-flow ODE and the reverse SDE of the diffusion. In
the scaled variable x̃ = x / sqrt(ᾱ) with noise level σ = sqrt((1 - ᾱ) / ᾱ), the forward process
is x̃ = x0 + σ ε and the ODE is simply dx̃/dσ = ε̂ (Song et al. 2021, "score SDE"; Karras et al.
2022, sec. 2). DDIM is Euler's method on it; Heun's method adds a correction per step; the
reverse SDE is solved with Euler–Maruyama. The samplers share ``ddim_sample``'s signature.

Flow matching learns the velocity of the straight path x_t = (1 - t) x0 + t noise directly;
``flow_sample`` integrates it from t = 1 to 0.
"""

from __future__ import annotations

import torch

from ._progress import progress_bar
from ._validate import check_choice, check_positive_int
from .schedules import NoiseSchedule, batch_timesteps, extract

METHODS = ("euler", "heun", "euler_maruyama")


def score_from_eps(schedule: NoiseSchedule, eps: torch.Tensor, t) -> torch.Tensor:
    """∇ log p_t(x_t) = -ε / sqrt(1 - ᾱ_t): the score is the noise estimate, rescaled."""
    t = batch_timesteps(t, eps.shape[0], eps.device)
    return -eps / extract(schedule.one_minus_alpha_bars, t, eps).sqrt()


def eps_from_score(schedule: NoiseSchedule, score: torch.Tensor, t) -> torch.Tensor:
    """The inverse of ``score_from_eps``: ε = -sqrt(1 - ᾱ_t) · score."""
    t = batch_timesteps(t, score.shape[0], score.device)
    return -extract(schedule.one_minus_alpha_bars, t, score).sqrt() * score


def sigmas(schedule: NoiseSchedule, steps: torch.Tensor) -> torch.Tensor:
    """σ_t = sqrt((1 - ᾱ_t) / ᾱ_t) for integer ``steps`` (float64)."""
    one_minus, alpha_bars = schedule.one_minus_alpha_bars.double(), schedule.alpha_bars.double()
    return (one_minus[steps] / alpha_bars[steps]).sqrt()


def _direction(model, x_tilde, sigma, t, cond, clip_x0):
    """dx̃/dσ at (x̃, σ): ε̂ of the network, made consistent with a clipped x̂0 if asked."""
    x = x_tilde / (1 + sigma**2) ** 0.5                    # back to the model's input scale
    eps = model(x, batch_timesteps(t, x.shape[0], x.device), cond=cond)
    if clip_x0 is None:
        return eps
    x0 = (x_tilde - sigma * eps).clamp(-clip_x0, clip_x0)
    return (x_tilde - x0) / sigma


@torch.no_grad()
def ode_sample(model, schedule: NoiseSchedule, shape, *, num_steps: int = 50,
               method: str = "heun", cond=None, x_T=None, clip_x0: float | None = None,
               device=None, generator: torch.Generator | None = None, progress: bool = True,
               return_trajectory: bool = False):
    """Solve the probability-flow ODE (``method="euler"`` or ``"heun"``) or the reverse SDE
    (``"euler_maruyama"``) on ``num_steps`` trailing steps, from noise to data.

    Network calls: ``num_steps`` for Euler and Euler–Maruyama, ``2 · num_steps - 2`` for Heun:
    its first step (from σ_max, which the cosine schedule puts at ~2·10⁴, orders of magnitude
    above the next level, where averaging two slopes is meaningless) and its last (to σ = 0)
    are Euler steps. ``method="euler"`` equals deterministic DDIM."""
    check_choice("method", method, METHODS)
    check_positive_int("num_steps", num_steps)
    from .samplers import _finish, _initial_noise, ddim_timesteps

    device = device or next(model.parameters()).device
    x = _initial_noise(shape, x_T, device, generator)
    steps = ddim_timesteps(schedule.num_steps, num_steps)
    levels = sigmas(schedule, steps).tolist() + [0.0]
    x_tilde = x * (1 + levels[0] ** 2) ** 0.5                    # x / sqrt(ᾱ)
    trajectory = [x.cpu()] if return_trajectory else None
    pairs = list(zip(steps.tolist(), levels[:-1], levels[1:], steps.tolist()[1:] + [None]))
    for t, sigma, sigma_next, t_next in progress_bar(pairs, desc=method, enabled=progress):
        d = _direction(model, x_tilde, sigma, t, cond, clip_x0)
        if method == "euler_maruyama":
            # reverse SDE in σ: dx̃ = 2 ε̂ dσ + sqrt(2 σ |dσ|) z
            noise = torch.randn(x.shape, generator=generator, device="cpu").to(x)
            x_tilde = (x_tilde + 2 * (sigma_next - sigma) * d
                       + (2 * sigma * (sigma - sigma_next)) ** 0.5 * noise)
        else:
            x_next = x_tilde + (sigma_next - sigma) * d                      # Euler
            if method == "heun" and t_next is not None and t != steps[0]:    # trapezoid
                d_next = _direction(model, x_next, sigma_next, t_next, cond, clip_x0)
                x_next = x_tilde + (sigma_next - sigma) * (d + d_next) / 2
            x_tilde = x_next
        if return_trajectory:
            trajectory.append((x_tilde / (1 + sigma_next**2) ** 0.5).cpu())
    return _finish(x_tilde, trajectory, return_trajectory)


@torch.no_grad()
def flow_sample(model, shape, *, num_steps: int = 50, method: str = "euler", cond=None,
                x_T=None, device=None, generator: torch.Generator | None = None,
                progress: bool = True, return_trajectory: bool = False):
    """Integrate a flow-matching model's velocity dx/dt = v(x, t) from t = 1 (noise) to t = 0
    (data) with ``num_steps`` equal steps of Euler's or Heun's method. Chapter 10."""
    check_choice("method", method, ("euler", "heun"))
    check_positive_int("num_steps", num_steps)
    from .samplers import _finish, _initial_noise

    device = device or next(model.parameters()).device
    x = _initial_noise(shape, x_T, device, generator)
    times = torch.linspace(1.0, 0.0, num_steps + 1).tolist()
    trajectory = [x.cpu()] if return_trajectory else None

    def velocity(x, t):
        return model(x, torch.full((x.shape[0],), t, device=x.device), cond=cond)

    for t, t_next in progress_bar(list(zip(times[:-1], times[1:])), desc="flow", enabled=progress):
        v = velocity(x, t)
        x_next = x + (t_next - t) * v
        if method == "heun" and t_next > 0:
            x_next = x + (t_next - t) * (v + velocity(x_next, t_next)) / 2
        x = x_next
        if return_trajectory:
            trajectory.append(x.cpu())
    return _finish(x, trajectory, return_trajectory)
