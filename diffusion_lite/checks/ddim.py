"""Checkers for DDIM (chapter 6): the deterministic step, the strided loop and slerp."""

from __future__ import annotations

import torch

from ..samplers import ddim_sample, ddim_step, ddim_timesteps
from ._common import (
    Exercise,
    ExerciseError,
    Mistake,
    _answer_of,
    _call_student,
    _diagnose,
    _passed,
    checker,
)
from .sampling import _loop_verdict, _oracle_schedule, _variant


@checker(forbid=("ddim_step",))
def check_ddim_step(fn, cases: int = 5) -> None:
    """Chapter 6. ``fn(x_t, eps, alpha_bar_t, alpha_bar_prev)`` must return the deterministic
    DDIM step (eta = 0): sqrt(ab_prev) · x0_hat + sqrt(1 - ab_prev) · eps, where
    x0_hat = (x_t - sqrt(1 - ab_t) · eps) / sqrt(ab_t)."""
    g = torch.Generator().manual_seed(7)
    for case in range(cases):
        x_t, eps = torch.randn(4, 1, 3, 3, generator=g), torch.randn(4, 1, 3, 3, generator=g)
        alpha_bar_t = torch.rand(4, 1, 1, 1, generator=g) * 0.5 + 0.05
        alpha_bar_prev = alpha_bar_t + (1 - alpha_bar_t) * torch.rand(4, 1, 1, 1, generator=g) * 0.9
        x0_hat = (x_t - (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t.sqrt()
        answer = _call_student("check_ddim_step", fn, x_t, eps, alpha_bar_t, alpha_bar_prev)
        _diagnose(f"check_ddim_step (case {case})", answer,
                  alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_prev).sqrt() * eps, {
            "Add back the noise direction sqrt(1 - alpha_bar_prev) · eps; without it you jump "
            "straight to a scaled x0_hat.": alpha_bar_prev.sqrt() * x0_hat,
            "You used alpha_bar_t where sqrt(alpha_bar_t) belongs: x0_hat divides by the "
            "square root, sqrt(alpha_bar_t).":
                alpha_bar_prev.sqrt() * (x_t - (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t
                + (1 - alpha_bar_prev).sqrt() * eps,
            "You used 1 - alpha_bar where sqrt(1 - alpha_bar) belongs, in both terms: the noise "
            "is scaled by the standard deviation, not the variance.":
                alpha_bar_prev.sqrt() * (x_t - (1 - alpha_bar_t) * eps) / alpha_bar_t.sqrt()
                + (1 - alpha_bar_prev) * eps,
            "Use alpha_bar_t to form x0_hat and alpha_bar_prev for the new state: you swapped them.":
                alpha_bar_t.sqrt() * (x_t - (1 - alpha_bar_prev).sqrt() * eps) / alpha_bar_prev.sqrt()
                + (1 - alpha_bar_t).sqrt() * eps,
            "You returned x0_hat itself, a jump to the clean end; the step lands at alpha_bar_prev: "
            "sqrt(alpha_bar_prev) · x0_hat + sqrt(1 - alpha_bar_prev) · eps.": x0_hat,
            "The noise direction belongs to the level you move to, sqrt(1 - alpha_bar_prev), "
            "not the one you leave, sqrt(1 - alpha_bar_t).":
                alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_t).sqrt() * eps,
            "x0_hat subtracts the noise term, x_t - sqrt(1 - alpha_bar_t) · eps; you added it.":
                alpha_bar_prev.sqrt() * (x_t + (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t.sqrt()
                + (1 - alpha_bar_prev).sqrt() * eps,
            "Scale x0_hat by sqrt(alpha_bar_prev), not x_t: first predict x0_hat from x_t and eps.":
                alpha_bar_prev.sqrt() * x_t + (1 - alpha_bar_prev).sqrt() * eps,
            "You used alpha_bar_prev where sqrt(alpha_bar_prev) belongs: the new state keeps "
            "sqrt(alpha_bar_prev) · x0_hat, the square root of the signal's variance.":
                alpha_bar_prev * x0_hat + (1 - alpha_bar_prev).sqrt() * eps,
            "You used 1 - alpha_bar_prev where sqrt(1 - alpha_bar_prev) belongs: the noise "
            "direction is scaled by the standard deviation, the square root.":
                alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_prev) * eps,
            "You used 1 - alpha_bar_t where sqrt(1 - alpha_bar_t) belongs in x0_hat: "
            "x0_hat = (x_t - sqrt(1 - alpha_bar_t) · eps) / sqrt(alpha_bar_t).":
                alpha_bar_prev.sqrt() * (x_t - (1 - alpha_bar_t) * eps) / alpha_bar_t.sqrt()
                + (1 - alpha_bar_prev).sqrt() * eps,
            "You used alpha_bar and 1 - alpha_bar where their square roots belong, in both "
            "terms: every coefficient of the step is a standard deviation, a square root.":
                alpha_bar_prev * (x_t - (1 - alpha_bar_t) * eps) / alpha_bar_t
                + (1 - alpha_bar_prev) * eps,
        }, atol=1e-4)
    _passed("check_ddim_step", cases)


def _linspace_grids(T: int, num_steps: int) -> dict[str, list]:
    """The grids a loop gets from torch.linspace instead of ddim_timesteps, by how it was
    rounded."""
    ends = torch.linspace(T, 1, num_steps)
    open_end = torch.linspace(T, 0, num_steps + 1)[:-1]
    return {"linspace(T, 1, num_steps), rounded": ends.round().long().tolist(),
            "linspace(T, 1, num_steps), truncated": ends.long().tolist(),
            "linspace(T, 0, num_steps + 1), truncated": open_end.long().tolist()}




def _pairs(grid: list) -> list:
    return list(zip(grid[:-1], grid[1:]))


def _ddim_loop(model, schedule, x_T, pairs, *, model_at_prev=False, on_x_T=False, eps_once=False,
               clip=None):
    """Deterministic DDIM (eta = 0) through the steps (t, t_prev) of ``pairs``, or with one of
    the usual loop mistakes; any t_prev, even one above t, is used as given."""
    alpha_bars, x = schedule.alpha_bars.double(), x_T
    eps_first = model(x_T, torch.full((len(x),), pairs[0][0])) if eps_once else None
    for t, t_prev in pairs:
        eps = eps_first if eps_once else model(x_T if on_x_T else x,
                                               torch.full((len(x),), t_prev if model_at_prev else t))
        if clip is not None:
            x = ddim_step(schedule, eps, x, t, t_prev, clip_x0=clip)
            continue
        alpha_bar, alpha_bar_prev = alpha_bars[t], alpha_bars[t_prev]
        x0_hat = (x - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()
        x = (alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_prev).sqrt() * eps).to(x_T.dtype)
    return x


@checker(forbid=("ddim_sample",))
def check_ddim_sample(fn, cases: int = 2) -> None:
    """Chapter 6. ``fn(model, schedule, x_T, num_steps)`` must run deterministic DDIM (eta = 0)
    from ``x_T`` on the steps ``ddim_timesteps(T, num_steps)``, from T down, each step going to
    the next step of that list and the last one to t_prev = 0; it returns x_0. The reference
    is ``ddim_sample(..., eta=0.0, clip_x0=None)`` with the same model and starting noise."""
    schedule, model = _oracle_schedule()
    T = schedule.num_steps
    labels, answers, references, mistakes = [], [], [], {}
    for case, num_steps in enumerate([7, 10][:cases]):
        name = f"check_ddim_sample (num_steps={num_steps})"
        x_T = torch.randn(16, 2, generator=torch.Generator().manual_seed(60 + case))
        hint = (f"The checker's schedule has T = schedule.num_steps = {T}. Each step goes from "
                "t to a smaller t_prev (the next step of the grid, 0 after the last): "
                "ddim_step(schedule, eps, x, t, t_prev) refuses t_prev >= t.")
        answer = _answer_of(name, fn, (model, schedule, x_T, num_steps), hint)
        again = _answer_of(name, fn, (model, schedule, x_T, num_steps), hint)
        if isinstance(answer, torch.Tensor) and isinstance(again, torch.Tensor) and \
                answer.shape == again.shape and not torch.equal(answer, again):
            raise ExerciseError(f"{name}: two runs from the same x_T gave different samples: "
                                "DDIM with eta = 0 draws no noise; leave eta at 0.")
        reference = ddim_sample(model, schedule, x_T.shape, x_T=x_T, num_steps=num_steps,
                                eta=0.0, clip_x0=None, progress=False)
        steps = ddim_timesteps(T, num_steps).tolist()
        stride = T // num_steps
        wrong = {
            "The last step goes from the smallest step of the grid to t_prev = 0 (alpha_bar_0 "
            "= 1, the clean end); your loop stopped at the grid's last step.": (_pairs(steps), {}),
            "At the end, t_prev = 0 (alpha_bar_0 = 1), not 1: the last step lands on the clean "
            "end.": (_pairs(steps + [1]), {}),
            "t_prev is the next step of the grid, not t - 1: with a stride, the step jumps to "
            "the next grid step, and alpha_bar_prev is read there.":
                ([(t, t - 1) for t in steps], {}),
            "The steps run downwards from T: you went through the grid in reversed order.":
                (_pairs(steps[::-1] + [0]), {}),
            f"Use the grid ddim_timesteps(T, num_steps) (here {steps[:3]} ...); yours, "
            f"range(T, 0, -(T // num_steps)), has a different stride or length.":
                (_pairs(list(range(T, 0, -stride)) + [0]), {}),
            "Call the model at the step t of the state it sees, model(x, t); you passed t_prev.":
                (_pairs(steps + [0]), dict(model_at_prev=True)),
            "The model must see the current state x at every step; you passed it x_T each time.":
                (_pairs(steps + [0]), dict(on_x_T=True)),
            "The network must be called at every step, on the current state: your eps was "
            "computed once, before the loop, and reused.": (_pairs(steps + [0]), dict(eps_once=True)),
            "No clip_x0 here (the reference uses clip_x0=None): the lesson's samplers clip the "
            "x0 estimate to [-1, 1], but this exercise asks for the plain step.":
                (_pairs(steps + [0]), dict(clip=1.0)),
        }
        grid_hint = (f"Use ddim_timesteps(T, num_steps), the trailing grid (here {steps[:3]} ...); "
                     "yours, from torch.linspace, has other steps")
        for label, grid in _linspace_grids(T, num_steps).items():
            if grid != steps:
                wrong[f"{grid_hint} ({label})."] = (_pairs(grid + [0]), {})
        labels.append(f"num_steps={num_steps}")
        answers.append(answer)
        references.append(reference)
        for message, (pairs, knobs) in wrong.items():
            mistakes.setdefault(message, []).append(_ddim_loop(model, schedule, x_T, pairs, **knobs))
    _loop_verdict("check_ddim_sample", labels, answers, references, mistakes, {}, (
        "Check the loop against the exercise: the grid ddim_timesteps(T, num_steps) (the "
        "trailing grid), from T down, t_prev the next step of the grid and 0 after the last, "
        "the network called on the current state at t, eta = 0, and no clip_x0 (the reference "
        "uses clip_x0=None)."))
    _passed("check_ddim_sample", len(labels))


def _slerp_unnormalised(a, b, alpha):
    theta = torch.arccos(((a.flatten() @ b.flatten()) / a.numel()).clamp(-1, 1))
    return (torch.sin(torch.tensor(1 - alpha) * theta) * a
            + torch.sin(torch.tensor(alpha) * theta) * b) / torch.sin(theta)


def _slerp_case(alpha: float, g: torch.Generator, parallel: bool):
    """Two (1, 4, 4) tensors at an angle near 50 degrees (not the near-right angle of two
    independent draws, where the arc, the line and some mistakes nearly agree); with
    ``parallel``, b = 2.5 a with entries ±1, so that the normalised dot product is exactly 1
    and theta exactly 0."""
    if not parallel:
        a = torch.randn(1, 4, 4, generator=g)
        return a, 0.6 * a + 0.8 * torch.randn(1, 4, 4, generator=g)
    a = torch.randint(0, 2, (1, 4, 4), generator=g).float() * 2 - 1
    return a, 2.5 * a


@checker(forbid=("slerp",))
def check_slerp(fn, cases: int = 6) -> None:
    """Chapter 6. ``fn(a, b, alpha)`` must return the spherical interpolation
    sin((1-alpha)·theta)/sin(theta) · a + sin(alpha·theta)/sin(theta) · b, theta the angle
    between the flattened a and b, arccos(a · b / (|a| |b|)); for parallel a and b (theta
    near 0) the straight line (1 - alpha)·a + alpha·b, the arc's limit. The last cases are
    parallel."""
    g = torch.Generator().manual_seed(8)
    plan = [(0.3, False), (0.5, False), (0.0, False), (1.0, False), (0.3, True), (0.7, True)]
    for alpha, parallel in plan[:cases]:
        name = f"check_slerp (alpha={alpha}{', a and b parallel' if parallel else ''})"
        a, b = _slerp_case(alpha, g, parallel)
        answer = _answer_of(name, fn, (a, b, alpha),
                            "a and b are tensors of shape (1, 4, 4) and alpha is a float.")
        line = (1 - alpha) * a + alpha * b
        if parallel:
            if isinstance(answer, torch.Tensor) and not torch.isfinite(answer).all():
                raise ExerciseError(
                    f"{name}: your answer contains NaN or inf. Here b = 2.5 a: the angle is "
                    "theta = 0 and sin(theta) = 0, so both weights are 0 / 0. On the arc's limit "
                    "the weights tend to 1 - alpha and alpha: when theta is tiny (say below "
                    "1e-6), fall back to the straight line (1 - alpha)·a + alpha·b.")
            _diagnose(name, answer, line, {
                "For parallel a and b (theta = 0) the result is the straight line "
                "(1 - alpha)·a + alpha·b; your fallback swapped the weights of a and b.":
                    alpha * a + (1 - alpha) * b}, atol=1e-4)
            continue
        theta = torch.arccos((a.flatten() @ b.flatten()) / (a.norm() * b.norm()))
        if isinstance(answer, torch.Tensor) and not torch.isfinite(answer).all():
            raise ExerciseError(
                f"{name}: your answer contains NaN or inf: the angle is unnormalised. arccos is "
                "only defined on [-1, 1], and a · b of two noise tensors is far outside it: "
                "theta = arccos(a · b / (|a| |b|)), the dot product divided by both norms (and "
                "clamped to [-1, 1] against rounding).")
        if isinstance(answer, torch.Tensor) and answer.norm() > 100 * (a.norm() + b.norm()):
            raise ExerciseError(
                f"{name}: your answer is enormous, so sin(theta) is nearly 0: theta came out 0 "
                "or pi. The angle is unnormalised: the dot product a · b, not divided by both "
                "norms, was clamped to [-1, 1]. Use theta = arccos(a · b / (|a| |b|)).")
        sin_a, sin_b = torch.sin(torch.tensor(1 - alpha) * theta), torch.sin(torch.tensor(alpha) * theta)
        reference = (sin_a * a + sin_b * b) / torch.sin(theta)
        mistakes = {   # checked only when the answer is wrong
            "That is the straight line (1 - alpha)·a + alpha·b; slerp follows the arc. If you "
            "wrote the arc with a fallback for parallel inputs, your theta came out 0: the angle "
            "is unnormalised. Divide the dot product by both norms, a · b / (|a| |b|), before "
            "arccos.": line,
            "The weight of a uses (1 - alpha); of b, alpha: you swapped them.":
                (sin_b * a + sin_a * b) / torch.sin(theta),
            "The angle is unnormalised: theta is the angle between a and b, "
            "arccos(a · b / (|a| |b|)); divide the dot product by both norms before arccos.":
                _slerp_unnormalised(a, b, alpha),
            "Divide both weights by sin(theta): without it the norm shrinks along the arc.":
                sin_a * a + sin_b * b,
            "theta is arccos of the cosine; you used the cosine itself as the angle.":
                (torch.sin((1 - alpha) * torch.cos(theta)) * a
                 + torch.sin(alpha * torch.cos(theta)) * b) / torch.sin(torch.cos(theta)),
            "Interpolate a and b themselves, not a / |a| and b / |b|: the result must keep the "
            "noise's norm, not lie on the unit sphere.":
                (sin_a * a / a.norm() + sin_b * b / b.norm()) / torch.sin(theta),
        }
        _diagnose(name, answer, reference, mistakes, atol=1e-4)
    _passed("check_slerp", min(cases, len(plan)))


_DDIM_STEP = """def my_ddim_step(x_t, eps, alpha_bar_t, alpha_bar_prev):
    x0_hat = (x_t - (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t.sqrt()
    return alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_prev).sqrt() * eps
"""
_X0 = "x0_hat = (x_t - (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t.sqrt()"
_NEW = "return alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_prev).sqrt() * eps"

_SLERP = """def my_slerp(a, b, alpha):
    cos = (a.flatten() @ b.flatten()) / (a.norm() * b.norm())
    theta = torch.arccos(cos.clamp(-1, 1))
    if theta < 1e-6:
        return (1 - alpha) * a + alpha * b
    return (torch.sin((1 - alpha) * theta) * a + torch.sin(alpha * theta) * b) / torch.sin(theta)
"""
_COS = "cos = (a.flatten() @ b.flatten()) / (a.norm() * b.norm())"
_FALLBACK = "    if theta < 1e-6:\n        return (1 - alpha) * a + alpha * b\n"
_ARC = "return (torch.sin((1 - alpha) * theta) * a + torch.sin(alpha * theta) * b) / torch.sin(theta)"

_DDIM_LOOP = """def my_ddim_sample(model, schedule, x_T, num_steps):
    steps = ddim_timesteps(schedule.num_steps, num_steps).tolist()
    x = x_T
    for t, t_prev in zip(steps, steps[1:] + [0]):
        eps = model(x, torch.full((len(x),), t))
        x = ddim_step(schedule, eps, x, t, t_prev)
    return x
"""
_GRID = "steps = ddim_timesteps(schedule.num_steps, num_steps).tolist()"
_PAIRS = "zip(steps, steps[1:] + [0])"
_STEP = "x = ddim_step(schedule, eps, x, t, t_prev)"
_OWN_STEP = ("alpha_bar, alpha_bar_prev = schedule.alpha_bars[t], schedule.alpha_bars[t_prev]\n"
             "        x0_hat = (x - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()\n"
             "        x = alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_prev).sqrt() * eps")


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
EXERCISES: dict[str, Exercise] = {
    "ex-ddim-step": Exercise("transcription", reference="diffusion_lite.samplers.ddim_step", mistakes=(
        Mistake("noise direction", _variant(_DDIM_STEP, (_NEW, "return alpha_bar_prev.sqrt() * x0_hat"))),
        Mistake("alpha_bar_t where sqrt\\(alpha_bar_t\\) belongs", _variant(_DDIM_STEP, (_X0, "x0_hat = (x_t - (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t"))),
        Mistake("1 - alpha_bar_t where sqrt\\(1 - alpha_bar_t\\) belongs in x0_hat", _variant(_DDIM_STEP, (_X0, "x0_hat = (x_t - (1 - alpha_bar_t) * eps) / alpha_bar_t.sqrt()"))),
        Mistake("alpha_bar_prev where sqrt\\(alpha_bar_prev\\) belongs", _variant(_DDIM_STEP, (_NEW, "return alpha_bar_prev * x0_hat + (1 - alpha_bar_prev).sqrt() * eps"))),
        Mistake("1 - alpha_bar_prev where sqrt\\(1 - alpha_bar_prev\\) belongs", _variant(_DDIM_STEP, (_NEW, "return alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_prev) * eps"))),
        Mistake("sqrt\\(1 - alpha_bar\\) belongs, in both terms", _variant(_DDIM_STEP,
            (_X0, "x0_hat = (x_t - (1 - alpha_bar_t) * eps) / alpha_bar_t.sqrt()"),
            (_NEW, "return alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_prev) * eps"))),
        Mistake("square roots belong, in both", _variant(_DDIM_STEP,
            (_X0, "x0_hat = (x_t - (1 - alpha_bar_t) * eps) / alpha_bar_t"),
            (_NEW, "return alpha_bar_prev * x0_hat + (1 - alpha_bar_prev) * eps"))),
        Mistake("swapped", _variant(_DDIM_STEP,
            (_X0, "x0_hat = (x_t - (1 - alpha_bar_prev).sqrt() * eps) / alpha_bar_prev.sqrt()"),
            (_NEW, "return alpha_bar_t.sqrt() * x0_hat + (1 - alpha_bar_t).sqrt() * eps"))),
        Mistake("x0_hat itself", _variant(_DDIM_STEP, (_NEW, "return x0_hat"))),
        Mistake("level you move to", _variant(_DDIM_STEP, (_NEW, "return alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_t).sqrt() * eps"))),
        Mistake("you added it", _variant(_DDIM_STEP, (_X0, "x0_hat = (x_t + (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t.sqrt()"))),
        Mistake("not x_t", _variant(_DDIM_STEP, (_NEW, "return alpha_bar_prev.sqrt() * x_t + (1 - alpha_bar_prev).sqrt() * eps"))),
        Mistake("in place", _variant(_DDIM_STEP, (_X0, "x_t -= (1 - alpha_bar_t).sqrt() * eps\n    x0_hat = x_t / alpha_bar_t.sqrt()"))),
    )),
    "ex-ddim-slerp": Exercise("transcription", reference="diffusion_lite.samplers.slerp", mistakes=(
        Mistake("straight line", _variant(_SLERP, (_ARC, "return (1 - alpha) * a + alpha * b"))),
        Mistake("you swapped them", _variant(_SLERP, (_ARC, "return (torch.sin(alpha * theta) * a + torch.sin((1 - alpha) * theta) * b) / torch.sin(theta)"))),
        Mistake("unnormalised", _variant(_SLERP, (_COS, "cos = a.flatten() @ b.flatten()"),
                                          ("cos.clamp(-1, 1)", "cos"))),
        Mistake("unnormalised", _variant(_SLERP, (_COS, "cos = a.flatten() @ b.flatten()"))),
        Mistake("Divide both weights by sin\\(theta\\)", _variant(_SLERP, (_ARC, "return torch.sin((1 - alpha) * theta) * a + torch.sin(alpha * theta) * b"))),
        Mistake("cosine itself", _variant(_SLERP, ("theta = torch.arccos(cos.clamp(-1, 1))", "theta = cos"))),
        Mistake("unit sphere", _variant(_SLERP, (_ARC, "return (torch.sin((1 - alpha) * theta) * a / a.norm() + torch.sin(alpha * theta) * b / b.norm()) / torch.sin(theta)"))),
        Mistake("fall back to the straight line", _variant(_SLERP, (_FALLBACK, ""))),
        Mistake("fallback swapped the weights", _variant(_SLERP, (_FALLBACK, "    if theta < 1e-6:\n        return alpha * a + (1 - alpha) * b\n"))),
        Mistake("in place", _variant(_SLERP, (_COS, "a /= a.norm()\n    b /= b.norm()\n    cos = a.flatten() @ b.flatten()"))),
        Mistake("calls the package's slerp", "def my_slerp(a, b, alpha):\n    return slerp(a, b, alpha)\n"),
    )),
    "ex-ddim-loop": Exercise("loop", reference="diffusion_lite.samplers.ddim_sample", mistakes=(
        Mistake("stopped at the grid's last step", _variant(_DDIM_LOOP, (_PAIRS, "zip(steps, steps[1:])"))),
        Mistake("not 1: the last step", _variant(_DDIM_LOOP, (_PAIRS, "zip(steps, steps[1:] + [1])"))),
        Mistake("not t - 1", _variant(_DDIM_LOOP, (_PAIRS, "zip(steps, [t - 1 for t in steps])"))),
        Mistake("not t - 1", _variant(_DDIM_LOOP, (_PAIRS, "zip(steps, [t - 1 for t in steps])"),
                                       (_STEP, _OWN_STEP))),
        Mistake("smaller t_prev", _variant(_DDIM_LOOP, (_GRID, "steps = ddim_timesteps(schedule.num_steps, num_steps).flip(0).tolist()"))),
        Mistake("reversed order", _variant(_DDIM_LOOP, (_GRID, "steps = ddim_timesteps(schedule.num_steps, num_steps).flip(0).tolist()"),
                                            (_STEP, _OWN_STEP))),
        Mistake("Use the grid ddim_timesteps", _variant(_DDIM_LOOP, (_GRID, "steps = list(range(schedule.num_steps, 0, -(schedule.num_steps // num_steps)))"))),
        Mistake("you passed t_prev", _variant(_DDIM_LOOP, ("model(x, torch.full((len(x),), t))", "model(x, torch.full((len(x),), t_prev))"))),
        Mistake("x_T each time", _variant(_DDIM_LOOP, ("model(x, torch.full((len(x),), t))", "model(x_T, torch.full((len(x),), t))"))),
        Mistake("leave eta at 0", _variant(_DDIM_LOOP, (_STEP, "x = ddim_step(schedule, eps, x, t, t_prev, eta=1.0)"))),
        Mistake("No clip_x0 here \\(the reference uses clip_x0=None\\)", _variant(_DDIM_LOOP, (_STEP, "x = ddim_step(schedule, eps, x, t, t_prev, clip_x0=1.0)"))),
        Mistake("Use ddim_timesteps\\(T, num_steps\\), the trailing grid", _variant(_DDIM_LOOP, (_GRID, "steps = torch.linspace(schedule.num_steps, 1, num_steps).round().long().tolist()"))),
        Mistake("Use ddim_timesteps\\(T, num_steps\\), the trailing grid", _variant(_DDIM_LOOP, (_GRID, "steps = torch.linspace(schedule.num_steps, 1, num_steps).long().tolist()"))),
        Mistake("eps was computed once", _variant(_DDIM_LOOP, (
            "    x = x_T\n", "    x = x_T\n    eps = model(x_T, torch.full((len(x),), steps[0]))\n"),
            ("        eps = model(x, torch.full((len(x),), t))\n", ""))),
        Mistake("calls the package's ddim_sample", "def my_ddim_sample(model, schedule, x_T, num_steps):\n"
                "    return ddim_sample(model, schedule, x_T.shape, x_T=x_T, num_steps=num_steps, "
                "clip_x0=None, progress=False)\n"),
    )),
    "ex-ddim-invert": Exercise("written"),
}
