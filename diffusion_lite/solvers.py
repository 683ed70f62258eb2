"""The differential-equation view of sampling (chapters 10–11).

A trained ε-network defines the probability-flow ODE and the reverse SDE of the diffusion. In
the scaled variable x̃ = x / sqrt(ᾱ) with noise level σ = sqrt((1 - ᾱ) / ᾱ), the forward process
is x̃ = x0 + σ ε and the ODE is simply dx̃/dσ = ε̂ (Song et al. 2021, "score SDE"; Karras et al.
2022, sec. 2). DDIM is Euler's method on it; Heun's method adds a correction per step; the
reverse SDE is solved with Euler–Maruyama.

Flow matching learns the velocity of the straight path x_t = (1 - t) x0 + t noise directly;
``flow_sample`` integrates it from t = 1 to 0. Both samplers follow the contract of
``samplers`` (model, schedule or path, shape; keyword-only the rest), guidance included;
``flow_sample`` has no ``clip_x0``.
"""

from __future__ import annotations

import torch

from ._random import randn_like
from ._validate import check_choice, check_positive_int
from .samplers import FROM_MODEL, ddim_timesteps, prepare, resolve_clip, run
from .schedules import FlowPath, NoiseSchedule, batch_timesteps

METHODS = ("euler", "heun", "euler_maruyama")


def sigmas(schedule: NoiseSchedule, steps: torch.Tensor) -> torch.Tensor:
    """σ_t = sqrt((1 - ᾱ_t) / ᾱ_t) for integer ``steps`` (float64, on the CPU: the solvers'
    step sizes are Python numbers, and Apple's MPS has no float64)."""
    one_minus = schedule.one_minus_alpha_bars.cpu().double()
    alpha_bars = schedule.alpha_bars.cpu().double()
    steps = torch.as_tensor(steps).cpu()
    return (one_minus[steps] / alpha_bars[steps]).sqrt()


def euler_or_heun(slope, x: torch.Tensor, s: float, s_to: float, d: torch.Tensor, *,
                  heun: bool) -> torch.Tensor:
    """One step of dx/ds = slope(x, s) from s to s_to, given d = slope(x, s): Euler's method,
    or with ``heun`` the trapezoid rule on Euler's guess (one more slope evaluation)."""
    x_euler = x + (s_to - s) * d
    if not heun:
        return x_euler
    return x + (s_to - s) * (d + slope(x_euler, s_to)) / 2


@torch.no_grad()
def ode_sample(model, schedule: NoiseSchedule, shape, *, num_steps: int = 50,
               method: str = "heun", x_T=None, cond=None, guidance_scale: float | None = None,
               uncond=None, clip_x0: float | None | str = FROM_MODEL, device=None,
               generator: torch.Generator | None = None, progress: bool = True, callback=None,
               return_trajectory: bool = False):
    """Solve the probability-flow ODE (``method="euler"`` or ``"heun"``) or the reverse SDE
    (``"euler_maruyama"``) on ``num_steps`` trailing steps, from noise to data.

    Network calls: ``num_steps`` for Euler and Euler–Maruyama, ``2 · num_steps - 2`` for Heun
    (1 for ``num_steps = 1``):
    its first step (from σ_max, which the cosine schedule puts at ~2·10⁴, orders of magnitude
    above the next level, where averaging two slopes is meaningless) and its last (to σ = 0)
    are Euler steps. ``method="euler"`` equals deterministic DDIM."""
    check_choice("method", method, METHODS)
    check_positive_int("num_steps", num_steps)
    clip_x0 = resolve_clip(model, clip_x0)
    model, x = prepare(model, shape, x_T=x_T, cond=cond, guidance_scale=guidance_scale,
                       uncond=uncond, device=device, generator=generator)
    steps = ddim_timesteps(schedule.num_steps, num_steps).tolist() + [0]
    level = dict(zip(steps, sigmas(schedule, torch.tensor(steps)).tolist()))    # σ_0 = 0

    def slope(x_tilde, t):
        """dx̃/dσ at step t: the network's ε̂, made consistent with a clipped x̂0 if asked."""
        sigma = level[t]
        eps_pred = model(x_tilde / (1 + sigma**2) ** 0.5, batch_timesteps(t, x.shape[0], x.device))
        if clip_x0 is None:
            return eps_pred
        x0 = (x_tilde - sigma * eps_pred).clamp(-clip_x0, clip_x0)
        return (x_tilde - x0) / sigma

    def step(x, t, t_prev):
        sigma, sigma_prev = level[t], level[t_prev]
        x_tilde = x * (1 + sigma**2) ** 0.5                                     # x / sqrt(ᾱ)
        d = slope(x_tilde, t)
        if method == "euler_maruyama":      # reverse SDE in σ: dx̃ = 2 ε̂ dσ + sqrt(2 σ |dσ|) z
            x_tilde = (x_tilde + 2 * (sigma_prev - sigma) * d
                       + (2 * sigma * (sigma - sigma_prev)) ** 0.5 * randn_like(x, generator))
        else:
            heun = method == "heun" and t != steps[0] and t_prev != 0
            x_tilde = euler_or_heun(lambda y, s: slope(y, t_prev), x_tilde, sigma, sigma_prev, d,
                                    heun=heun)
        return x_tilde / (1 + sigma_prev**2) ** 0.5

    return run(x, steps, step, desc=method, progress=progress, callback=callback,
               return_trajectory=return_trajectory)


@torch.no_grad()
def flow_sample(model, path: FlowPath, shape, *, num_steps: int = 50, method: str = "euler",
                x_T=None, cond=None, guidance_scale: float | None = None, uncond=None,
                device=None, generator: torch.Generator | None = None, progress: bool = True,
                callback=None, return_trajectory: bool = False):
    """Integrate a flow-matching model's velocity dx/dt = v(x, t) along ``path`` from t = 1
    (noise) to t = 0 (data) with ``num_steps`` equal steps of Euler's or Heun's method (Heun:
    an Euler last step, to t = 0). Guidance combines velocities as ``guided_eps`` combines noise
    predictions. Chapter 10."""
    check_choice("method", method, ("euler", "heun"))
    if not isinstance(path, FlowPath):
        raise TypeError(f"path: expected a FlowPath, got {type(path).__name__}")
    model, x = prepare(model, shape, x_T=x_T, cond=cond, guidance_scale=guidance_scale,
                       uncond=uncond, device=device, generator=generator)

    def velocity(x, t):
        return model(x, torch.full((x.shape[0],), t, device=x.device))

    def step(x, t, t_prev):
        return euler_or_heun(velocity, x, t, t_prev, velocity(x, t),
                             heun=method == "heun" and t_prev > 0)

    return run(x, path.grid(num_steps).tolist(), step, desc="flow", progress=progress,
               callback=callback, return_trajectory=return_trajectory)
