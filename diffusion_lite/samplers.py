"""Samplers: pure step functions and the short loops that call them (chapters 3, 6, 7, 13).

A step takes the model's noise prediction ``eps_pred`` and returns the next, less noisy state;
it never calls the model. The loops (``ddpm_sample``, ``ddim_sample``, ``ddim_invert``, and
``ode_sample`` and ``flow_sample`` in ``solvers``) are a few lines each and share one contract:

    sampler(model, schedule, shape, *, num_steps, x_T=None, cond=None, guidance_scale=None,
            uncond=None, device=None, generator=None, progress=True, callback=None,
            return_trajectory=False, ...its own options)

``model(x, t, cond=None)`` is a network; ``schedule`` is a ``NoiseSchedule`` (a ``FlowPath``
for flow models); the state starts at ``x_T`` or at noise of ``shape`` drawn from
``generator``; the step grid comes from one helper per kind of model (``ddim_timesteps``,
``FlowPath.grid``); ``cond`` with ``guidance_scale`` wraps the model in ``Guided``, so every
sampler can be guided; ``callback(i, t_prev, x)`` sees each new state and the step it reached; ``return_trajectory`` also
returns every state, on the CPU. ``ddpm_sample`` always takes all T steps (no ``num_steps``);
``flow_sample`` has no ``clip_x0`` (a flow model predicts a velocity, not x0). ``ddpm_sample``
and ``ddim_sample`` also take ``inpaint=(known, mask)``: they keep the known entries, noised to
each level, and generate the rest (chapter 13). ``ddim_invert`` runs the other way, data to
noise: the data ``x0`` in place of ``shape`` and ``x_T``, and no ``guidance_scale``, ``uncond``,
``generator`` or ``clip_x0`` (it is deterministic and unguided).
"""

from __future__ import annotations

import math

import torch

from ._progress import progress_bar
from ._random import randn, randn_like
from ._validate import (
    check_choice,
    check_positive_int,
    check_same_shape,
    check_tensor,
    checking_values,
    inside_loop,
)
from .schedules import (
    NoiseSchedule,
    add_noise,
    batch_timesteps,
    check_timesteps,
    extract,
    posterior_mean_variance,
    predict_x0,
)

DDPM_VARIANCES = ("beta_tilde", "beta")


def _maybe_clip(x0_pred: torch.Tensor, clip_x0: float | None) -> torch.Tensor:
    return x0_pred if clip_x0 is None else x0_pred.clamp(-clip_x0, clip_x0)


def ddpm_step(schedule: NoiseSchedule, eps_pred: torch.Tensor, x_t: torch.Tensor, t, *,
              variance: str = "beta_tilde", clip_x0: float | None = None,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """One ancestral step x_t -> x_{t-1} (Ho et al. 2020, Algorithm 2).

    The mean is the posterior mean q(x_{t-1} | x_t, x0_pred); the variance sigma_t² is
    ``"beta_tilde"`` (the posterior's, optimal for a single-point x_0) or ``"beta"`` (optimal
    for x_0 ~ N(0, I)): Ho et al.'s two extremes, sec. 3.2. No noise is added at t = 1, the
    step that returns x_0. Chapter 3.
    """
    check_choice("variance", variance, DDPM_VARIANCES)
    check_tensor("x_t", x_t, min_ndim=1)
    t = batch_timesteps(t, x_t.shape[0], x_t.device)
    # 1. predict x0 from the noise estimate (eq. 15), optionally clipped to the data range
    x0_pred = _maybe_clip(predict_x0(schedule, x_t, t, eps_pred), clip_x0)
    # 2. the mean and variance of q(x_{t-1} | x_t, x0_pred) (eqs. 6–7)
    mean, beta_tilde = posterior_mean_variance(schedule, x0_pred, x_t, t)
    sigma2 = beta_tilde if variance == "beta_tilde" else extract(schedule.betas, t, x_t).expand_as(x_t)
    # 3. add noise, except at the last step (t = 1 -> x_0)
    nonzero = (t > 1).reshape(-1, *([1] * (x_t.ndim - 1))).to(x_t.dtype)
    return mean + nonzero * sigma2.sqrt() * randn_like(x_t, generator)


def _step_terms(schedule: NoiseSchedule, x_name: str, x: torch.Tensor, eps_pred: torch.Tensor, t, t_prev):
    """Check a DDIM step's inputs; return t batched, then alpha_bar and 1 - alpha_bar at t and at
    t_prev, shaped to broadcast against ``x``."""
    check_tensor(x_name, x, min_ndim=1)
    check_same_shape(x_name, x, "eps_pred", eps_pred)
    t = check_timesteps(schedule, batch_timesteps(t, x.shape[0], x.device), x.shape[0])
    t_prev = batch_timesteps(t_prev, x.shape[0], x.device)
    if checking_values() and ((t_prev >= t).any() or (t_prev < 0).any()):
        raise ValueError(f"t_prev: expected 0 <= t_prev < t, got t_prev={t_prev.tolist()} "
                         f"for t={t.tolist()}")
    alpha_bars, one_minus = schedule.alpha_bars, schedule.one_minus_alpha_bars
    return (t, extract(alpha_bars, t, x), extract(alpha_bars, t_prev, x),
            extract(one_minus, t, x), extract(one_minus, t_prev, x))


def ddim_step(schedule: NoiseSchedule, eps_pred: torch.Tensor, x_t: torch.Tensor, t, t_prev, *,
              eta: float = 0.0, clip_x0: float | None = None,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """One DDIM step x_t -> x_{t_prev} (Song et al. 2021, eq. 12); ``t_prev = 0`` means
    alpha_bar_0 = 1, a clean sample. ``eta = 0`` is deterministic; ``eta = 1`` with
    ``t_prev = t - 1`` has DDPM's posterior variance. Chapters 3 and 6.
    """
    if not 0.0 <= eta:
        raise ValueError(f"eta: expected a value >= 0, got {eta}")
    # 1. alpha_bar and 1 - alpha_bar at t and at t_prev (alpha_bar_0 = 1)
    t, alpha_bar, alpha_bar_prev, one_minus_t, one_minus_prev = _step_terms(
        schedule, "x_t", x_t, eps_pred, t, t_prev)
    # 2. predict x0 (eq. 12, "predicted x0")
    x0_pred = _maybe_clip(predict_x0(schedule, x_t, t, eps_pred), clip_x0)
    if clip_x0 is not None:   # keep eps_pred consistent with the clipped x0
        eps_pred = (x_t - alpha_bar.sqrt() * x0_pred) / one_minus_t.sqrt()
    # 3. sigma_t(eta) (eq. 16) and the "direction pointing to x_t"
    sigma2 = eta**2 * (one_minus_prev / one_minus_t) * (1 - alpha_bar / alpha_bar_prev)
    sigma = sigma2.sqrt()
    direction = (one_minus_prev - sigma2).clamp(min=0).sqrt() * eps_pred
    # 4. x_{t_prev} = sqrt(alpha_bar_prev) x0_pred + direction + sigma z
    x_prev = alpha_bar_prev.sqrt() * x0_pred + direction
    if eta > 0:
        x_prev = x_prev + sigma * randn_like(x_t, generator)
    return x_prev


def ddim_inversion_step(schedule: NoiseSchedule, eps_pred: torch.Tensor, x_prev: torch.Tensor, t_prev,
                        t) -> torch.Tensor:
    """One deterministic DDIM step run *forwards*, x_{t_prev} -> x_t with t_prev < t (DDIM
    inversion; Song et al. 2021, sec. 4.3 and Dhariwal & Nichol 2021, appendix F): the same
    update as ``ddim_step`` with eta = 0, with the roles of the two steps swapped. Chapter 6."""
    _, alpha_bar, alpha_bar_prev, one_minus_t, one_minus_prev = _step_terms(
        schedule, "x_prev", x_prev, eps_pred, t, t_prev)
    x0_pred = (x_prev - one_minus_prev.sqrt() * eps_pred) / alpha_bar_prev.sqrt()
    return alpha_bar.sqrt() * x0_pred + one_minus_t.sqrt() * eps_pred


def _check_guidance_scale(guidance_scale) -> None:
    if guidance_scale is not None and (
            isinstance(guidance_scale, bool) or not isinstance(guidance_scale, (int, float))
            or not math.isfinite(guidance_scale)):
        raise ValueError(f"guidance_scale: expected a finite number (w = 0 unconditional, 1 "
                         f"conditional, > 1 guided) or None, got {guidance_scale!r}")


def guided_eps(model, x_t: torch.Tensor, t: torch.Tensor, cond, guidance_scale: float | None,
               uncond=None) -> torch.Tensor:
    """The noise prediction, with classifier-free guidance when ``guidance_scale`` is given:
    eps(x, uncond) + w · (eps(x, cond) - eps(x, uncond)). This is Ho & Salimans (2021) eq. 6,
    (1 + w') · eps(x, cond) - w' · eps(x, uncond), with their w' = w - 1 (our w is diffusers'
    ``guidance_scale``). ``w = 1`` is the conditional prediction, ``w = 0`` the unconditional
    one. ``uncond`` is the "no condition" input: ``None`` (the U-Net's null class) or, for
    text, the empty prompt's encoding. Chapter 7."""
    if guidance_scale is None:
        return model(x_t, t, cond=cond)
    _check_guidance_scale(guidance_scale)
    if cond is None:
        raise ValueError("cond: expected a condition to guide towards when guidance_scale is "
                         f"given, got None (guidance_scale={guidance_scale})")
    eps_uncond = model(x_t, t, cond=uncond)
    eps_cond = model(x_t, t, cond=cond)
    return eps_uncond + guidance_scale * (eps_cond - eps_uncond)


class Guided(torch.nn.Module):
    """``model`` bound to the condition ``cond``, guided with scale ``guidance_scale`` (see
    ``guided_eps``; ``None``: conditional only, no guidance). It is itself a model,
    ``guided(x, t)``, so every sampler can drive it. Carries ``model``'s ``clip_x0``. Chapter 7."""

    def __init__(self, model, cond, guidance_scale: float | None = None, uncond=None):
        super().__init__()
        _check_guidance_scale(guidance_scale)
        if guidance_scale is not None and cond is None:
            raise ValueError("cond: expected a condition to guide towards when guidance_scale "
                             f"is given, got None (guidance_scale={guidance_scale})")
        self.model, self.cond, self.guidance_scale, self.uncond = model, cond, guidance_scale, uncond
        self.clip_x0 = getattr(model, "clip_x0", None)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond=None) -> torch.Tensor:
        if cond is not None:
            raise ValueError("cond: this model is already bound to its condition by Guided; "
                             "call it as guided(x, t)")
        return guided_eps(self.model, x_t, t, self.cond, self.guidance_scale, self.uncond)


def slerp(a: torch.Tensor, b: torch.Tensor, alpha) -> torch.Tensor:
    """Spherical interpolation between two noise tensors of one sample each (shapes equal), for
    each weight in ``alpha`` (a float or a 1-d tensor in [0, 1]); returns (len(alpha), *a.shape).
    Unlike a straight line, it keeps the norm of Gaussian noise (Shoemake 1985). Chapter 6."""
    check_same_shape("a", a, "b", b)
    alpha = torch.as_tensor(alpha, dtype=torch.float64).reshape(-1)
    if ((alpha < 0) | (alpha > 1)).any():
        raise ValueError(f"alpha: expected weights in [0, 1], got {alpha.tolist()}")
    a64, b64 = a.double().flatten(), b.double().flatten()
    for name, v in [("a", a64), ("b", b64)]:
        if not torch.isfinite(v).all() or v.norm() == 0:
            raise ValueError(f"{name}: expected a finite tensor with nonzero norm (a direction to "
                             f"interpolate along), got {'norm 0' if torch.isfinite(v).all() else 'NaN or inf'}")
    cos = torch.dot(a64, b64) / (a64.norm() * b64.norm())
    theta = torch.arccos(cos.clamp(-1, 1))
    if theta < 1e-6:                                      # parallel: fall back to a straight line
        weights_a, weights_b = 1 - alpha, alpha
    else:
        weights_a = torch.sin((1 - alpha) * theta) / torch.sin(theta)
        weights_b = torch.sin(alpha * theta) / torch.sin(theta)
    out = weights_a[:, None] * a64[None] + weights_b[:, None] * b64[None]
    return out.reshape(len(alpha), *a.shape).to(a.dtype)


def ddim_timesteps(num_train_steps: int, num_sample_steps: int) -> torch.Tensor:
    """``num_sample_steps`` evenly spaced steps from T down, "trailing" spacing
    (Lin et al. 2024, sec. 3.3): always starts at T, where x_T is pure noise. Chapter 6."""
    check_positive_int("num_train_steps", num_train_steps)
    check_positive_int("num_sample_steps", num_sample_steps)
    if num_sample_steps > num_train_steps:
        raise ValueError(f"num_sample_steps: expected at most num_train_steps={num_train_steps}, "
                         f"got {num_sample_steps}")
    ratio = num_train_steps / num_sample_steps
    # T - i·ratio for i < n: exactly n steps (arange's length, ceil(T / ratio), can round to n + 1)
    steps = num_train_steps - torch.arange(num_sample_steps, dtype=torch.float64) * ratio
    return steps.round().long()                                              # descending


def _check_known(known, mask, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``known`` as float32 and ``mask`` as bool expanded to ``x``'s shape, on its device, and
    the number of entries kept (counted where the mask was given)."""
    check_tensor("known", known)
    if not known.is_floating_point() or known.shape != x.shape:
        raise ValueError(f"known: expected a float tensor of the sample's shape {tuple(x.shape)} "
                         f"(inpaint=(known, mask)), got {known.dtype} of shape {tuple(known.shape)}")
    check_tensor("mask", mask)
    if mask.dtype != torch.bool and not ((mask == 0) | (mask == 1)).all():
        raise ValueError("mask: expected bool or 0/1 values, 1 where known is kept "
                         f"(inpaint=(known, mask)), got values {mask.unique()[:5].tolist()}")
    try:
        fits = torch.broadcast_shapes(mask.shape, x.shape) == x.shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(f"mask: expected a shape that broadcasts to the sample's {tuple(x.shape)} "
                         f"(inpaint=(known, mask)), got {tuple(mask.shape)}")
    keep = mask.to(dtype=torch.bool).expand(x.shape)
    return known.to(x), keep.to(x.device), int(keep.sum())


def replace_known(schedule: NoiseSchedule, x: torch.Tensor, known: torch.Tensor,
                  mask: torch.Tensor, t_prev, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Inpainting by replacement: the entries of ``x`` (a state at level ``t_prev``) where
    ``mask`` (bool or 0/1, broadcastable to x) is true become ``known`` noised to that level,
    add_noise(known, t_prev, fresh noise), so exactly ``known`` at t_prev = 0; the others are
    kept. The model then fills in the rest to agree with them (Song et al. 2021, "score SDE",
    appendix I.2; Lugmayr et al. 2022, RePaint, eq. 8, without its resampling). Noise is drawn
    for the known entries only, so an all-false mask draws nothing and changes nothing.
    Chapter 13."""
    return _replace(schedule, x, *_check_known(known, mask, x), t_prev, generator)


def _replace(schedule: NoiseSchedule, x: torch.Tensor, known: torch.Tensor, keep: torch.Tensor,
             num_kept: int, t_prev, generator) -> torch.Tensor:
    """``replace_known`` on checked inputs, with the number of kept entries counted once."""
    noise = torch.zeros_like(x).masked_scatter_(keep, randn((num_kept,), generator, x.device))
    known_t = add_noise(schedule, known, batch_timesteps(t_prev, x.shape[0], x.device), noise)
    return torch.where(keep, known_t, x)


def _with_inpainting(schedule: NoiseSchedule, x: torch.Tensor, grid: list, step, inpaint,
                     generator):
    """A loop's starting state and step with ``replace_known`` applied to the start (at level
    grid[0]) and after every step (at its t_prev); both unchanged when ``inpaint`` is None."""
    if inpaint is None:
        return x, step
    if not isinstance(inpaint, (tuple, list)) or len(inpaint) != 2:
        got = type(inpaint).__name__
        got += f" of length {len(inpaint)}" if isinstance(inpaint, (tuple, list)) else ""
        raise TypeError(f"inpaint: expected a pair (known, mask) or None, got {got}")
    known, keep, num_kept = _check_known(*inpaint, x)

    def step_and_replace(x, t, t_prev):
        return _replace(schedule, step(x, t, t_prev), known, keep, num_kept, t_prev, generator)

    return _replace(schedule, x, known, keep, num_kept, grid[0], generator), step_and_replace


# ----------------------------------------------------------------------------- the loops

FROM_MODEL = "model"   # clip_x0's default: the range the model was trained on, if it says


def resolve_clip(model, clip_x0):
    """``clip_x0`` as given, or for the default ``"model"`` the model's own ``clip_x0``
    attribute (the zoo sets it: 1.0 for images in [-1, 1], None for latents), else None."""
    if isinstance(clip_x0, str):
        if clip_x0 != FROM_MODEL:
            raise ValueError(f"clip_x0: expected a positive number, None or {FROM_MODEL!r}, "
                             f"got {clip_x0!r}")
        return getattr(model, "clip_x0", None)
    if clip_x0 is not None and not clip_x0 > 0:
        raise ValueError(f"clip_x0: expected a positive number, None or {FROM_MODEL!r}, got {clip_x0!r}")
    return clip_x0


def prepare(model, shape, *, x_T=None, cond=None, guidance_scale=None, uncond=None,
            device=None, generator=None):
    """What every sampler does first: the model to call as ``model(x, t)`` (wrapped in
    ``Guided`` when ``cond``, ``guidance_scale`` or ``uncond`` is given; ``uncond`` only matters
    with a ``guidance_scale``) and the starting state, ``x_T``
    or standard normal noise of ``shape`` drawn from ``generator``, on ``device`` (default:
    the model's)."""
    if device is None:
        device = next(iter(model.parameters()), torch.empty(0)).device
    if cond is not None or guidance_scale is not None or uncond is not None:
        model = Guided(model, cond, guidance_scale, uncond)
    if x_T is None:
        return model, randn(shape, generator, device)
    check_tensor("x_T", x_T)
    if x_T.dtype != torch.float32:
        raise TypeError(f"x_T: expected dtype torch.float32 (the networks' dtype), got "
                        f"{x_T.dtype}; pass x_T.float()")
    if tuple(x_T.shape) != tuple(shape):
        raise ValueError(f"x_T: expected shape {tuple(shape)}, got {tuple(x_T.shape)}")
    return model, x_T.to(device)


def run(x: torch.Tensor, grid: list, step, *, desc: str, progress: bool, callback=None,
        return_trajectory: bool = False):
    """Every sampler's loop: ``x = step(x, t, t_prev)`` for consecutive levels of ``grid``,
    with a progress bar, ``callback(i, t_prev, x)`` after each step, and with
    ``return_trajectory`` the stack of all states (len(grid) of them) on the CPU. The steps
    after the first skip the checks that read values (``inside_loop``): on a GPU each would
    make the host wait for the GPU."""
    if callback is not None and not callable(callback):
        raise TypeError(f"callback: expected a function callback(i, t, x) or None, got {callback!r}")
    trajectory = [x.cpu()] if return_trajectory else None
    pairs = list(zip(grid[:-1], grid[1:]))
    for i, (t, t_prev) in enumerate(progress_bar(pairs, desc=desc, enabled=progress)):
        if i == 0:                  # the first step checks everything it is given ...
            x = step(x, t, t_prev)
        else:                       # ... the same model, condition and grid need no second look
            with inside_loop():
                x = step(x, t, t_prev)
        if callback is not None:
            callback(i, t_prev, x)
        if return_trajectory:
            trajectory.append(x.cpu())
    return (x, torch.stack(trajectory)) if return_trajectory else x


@torch.no_grad()
def ddpm_sample(model, schedule: NoiseSchedule, shape, *, x_T=None, cond=None,
                guidance_scale: float | None = None, uncond=None, variance: str = "beta_tilde",
                clip_x0: float | None | str = FROM_MODEL, inpaint=None, device=None,
                generator: torch.Generator | None = None, progress: bool = True, callback=None,
                return_trajectory: bool = False):
    """Ancestral sampling over all T steps (Ho et al. 2020, Algorithm 2). Returns x_0, and
    with ``return_trajectory`` also every state x_T ... x_0 on the CPU. ``guidance_scale`` turns
    on classifier-free guidance towards ``cond`` (see ``guided_eps``). ``inpaint=(known, mask)``
    keeps the entries where ``mask`` is true equal to ``known``, noised to each level, and
    fills in the rest (see ``replace_known``). Chapters 3, 7, 13."""
    check_choice("variance", variance, DDPM_VARIANCES)
    clip_x0 = resolve_clip(model, clip_x0)
    model, x = prepare(model, shape, x_T=x_T, cond=cond, guidance_scale=guidance_scale,
                       uncond=uncond, device=device, generator=generator)
    schedule = schedule.for_loop_on(x.device)

    def step(x, t, t_prev):
        eps_pred = model(x, batch_timesteps(t, x.shape[0], x.device))
        return ddpm_step(schedule, eps_pred, x, t, variance=variance, clip_x0=clip_x0, generator=generator)

    grid = list(range(schedule.num_steps, -1, -1))
    x, step = _with_inpainting(schedule, x, grid, step, inpaint, generator)
    return run(x, grid, step, desc="DDPM", progress=progress, callback=callback,
               return_trajectory=return_trajectory)


@torch.no_grad()
def ddim_sample(model, schedule: NoiseSchedule, shape, *, num_steps: int = 50, eta: float = 0.0,
                x_T=None, start_step: int | None = None, cond=None,
                guidance_scale: float | None = None, uncond=None,
                clip_x0: float | None | str = FROM_MODEL, inpaint=None, device=None,
                generator: torch.Generator | None = None, progress: bool = True, callback=None,
                return_trajectory: bool = False):
    """DDIM sampling on ``num_steps`` of the T training steps (Song et al. 2021, sec. 4.2).
    Returns x_0, and with ``return_trajectory`` every visited state on the CPU. ``eta = 1``
    is DDPM on the strided chain ("strided DDPM"); ``guidance_scale`` and ``inpaint`` as in
    ``ddpm_sample``. ``start_step`` (default T) starts from a partly noisy ``x_T`` at that step
    instead, as after ``ddim_invert(..., end_step=start_step)``. Chapters 3, 6, 7, 13."""
    clip_x0 = resolve_clip(model, clip_x0)
    model, x = prepare(model, shape, x_T=x_T, cond=cond, guidance_scale=guidance_scale,
                       uncond=uncond, device=device, generator=generator)
    schedule = schedule.for_loop_on(x.device)

    def step(x, t, t_prev):
        eps_pred = model(x, batch_timesteps(t, x.shape[0], x.device))
        return ddim_step(schedule, eps_pred, x, t, t_prev, eta=eta, clip_x0=clip_x0, generator=generator)

    grid = _strided_steps(schedule, num_steps, start_step, "start_step").tolist() + [0]
    x, step = _with_inpainting(schedule, x, grid, step, inpaint, generator)
    return run(x, grid, step, desc="DDIM", progress=progress, callback=callback,
               return_trajectory=return_trajectory)


def _strided_steps(schedule: NoiseSchedule, num_steps: int, last: int | None, name: str):
    """``num_steps`` trailing steps from ``last`` (default T) down towards 1, descending."""
    if last is None:
        return ddim_timesteps(schedule.num_steps, num_steps)
    if not 1 <= int(last) <= schedule.num_steps:
        raise ValueError(f"{name}: expected a step in [1, {schedule.num_steps}], got {last}")
    return ddim_timesteps(int(last), num_steps)


@torch.no_grad()
def ddim_invert(model, schedule: NoiseSchedule, x0: torch.Tensor, *, num_steps: int = 50,
                end_step: int | None = None, cond=None, device=None, progress: bool = True,
                callback=None, return_trajectory: bool = False):
    """Run deterministic DDIM backwards, image -> noise, on the same steps as ``ddim_sample``
    (up to ``end_step``, default T); ``ddim_sample(..., x_T=ddim_invert(...),
    start_step=end_step)`` then returns (nearly) ``x0``. Each step uses the noise predicted at
    the state it starts from (at the clean end, the lowest noise level t = 1). Where alpha_bar
    at ``end_step`` is tiny (the cosine schedule's last step), that approximation's error is
    amplified by 1/sqrt(alpha_bar) when sampling back with ``clip_x0=None``: stop earlier, or
    sample back with the clip (chapter 6 measures both). The samplers' contract, with the data
    ``x0`` in place of ``shape`` and ``x_T`` (see the module's docstring). Chapter 6."""
    check_tensor("x0", x0, min_ndim=2)
    model, x = prepare(model, x0.shape, x_T=x0.float(), cond=cond, device=device)
    schedule = schedule.for_loop_on(x.device)

    def step(x, t_prev, t):
        eps_pred = model(x, batch_timesteps(max(t_prev, 1), x.shape[0], x.device))
        return ddim_inversion_step(schedule, eps_pred, x, t_prev, t)

    grid = [0] + _strided_steps(schedule, num_steps, end_step, "end_step").flip(0).tolist()
    return run(x, grid, step, desc="invert", progress=progress, callback=callback,
               return_trajectory=return_trajectory)
