"""Checkers for chapter 10: the score from the noise prediction, flow matching's path and
velocity, its Euler sampler, and the network calls of its Heun sampler."""

from __future__ import annotations

import re

import torch

from ..schedules import FlowPath
from ..solvers import flow_sample
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

_SHAPE_ERROR = re.compile(r"size|shape|broadcast|dimension", re.IGNORECASE)


def _call(name: str, fn, *args):
    """``_call_student``, whose hint about the arguments' shapes is kept for shape errors only:
    a dtype error or a wrong type gets its own hint."""
    try:
        return _call_student(name, fn, *args)
    except ExerciseError as error:
        cause = error.__cause__
        if cause is None or _SHAPE_ERROR.search(str(cause)):
            raise
        hint = ""
        if re.search(r"dtype|scalar type|Float|Double", str(cause)):
            hint = " Keep the inputs' dtype (torch.float32): build new tensors with dtype=x.dtype."
        elif "Python scalars" in str(cause):
            hint = (" The arguments are tensors, one value per point: use torch's functions "
                    "(torch.sqrt or .sqrt()), not the math module's, which take one number.")
        raise ExerciseError(f"{name}: your function raised {type(cause).__name__}: "
                            f"{cause}.{hint}") from cause



@checker(forbid=("score_from_eps",))
def check_score(fn, cases: int = 4) -> None:
    """Chapter 10. ``fn(eps, alpha_bar)`` must return the score -eps / sqrt(1 - alpha_bar)."""
    g = torch.Generator().manual_seed(16)
    for case in range(cases):
        eps = torch.randn(5, 2, generator=g)
        alpha_bar = torch.rand(5, 1, generator=g) * 0.98 + 0.01
        sigma = ((1 - alpha_bar) / alpha_bar).sqrt()
        name = f"check_score (case {case})"
        _diagnose(name, _call(name, fn, eps, alpha_bar), -eps / (1 - alpha_bar).sqrt(), {
            "The score points *against* the noise: put a minus sign in front.":
                eps / (1 - alpha_bar).sqrt(),
            "Divide by the standard deviation sqrt(1 - alpha_bar), not the variance.":
                -eps / (1 - alpha_bar),
            "Divide by sqrt(1 - alpha_bar), do not multiply: multiplying goes the other way, "
            "from a score to noise (eps = -sqrt(1 - alpha_bar) · score).":
                -eps * (1 - alpha_bar).sqrt(),
            "That is -eps / sigma with sigma = sqrt((1 - alpha_bar) / alpha_bar): the score of the "
            "scaled x~ = x / sqrt(alpha_bar) of the sigma form. The score of x_t itself divides "
            "by sqrt(1 - alpha_bar) alone.": -eps / sigma,
            "The noise level is 1 - alpha_bar, not alpha_bar.": -eps / alpha_bar.sqrt(),
        })
    _passed("check_score", cases)


@checker(forbid=("interpolate",))
def check_flow_pair(fn, cases: int = 3) -> None:
    """Chapter 10. ``fn(x0, noise, t)`` with t of shape (B,) in [0, 1] must return
    (x_t, target): x_t = (1 - t) x0 + t noise and the velocity noise - x0."""
    g = torch.Generator().manual_seed(17)
    for case in range(cases):
        x0, noise = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
        t = torch.rand(6, generator=g)
        name = f"check_flow_pair (case {case})"
        try:
            answer = _call_student(name, fn, x0, noise, t)
        except ExerciseError as error:
            if error.__cause__ is None:            # changed in place: the message says so
                raise
            raise ExerciseError(f"{error} t has shape (B,) and x0 (B, D): use t[:, None] to "
                                "broadcast one t per point.") from error.__cause__
        if not (isinstance(answer, tuple) and len(answer) == 2):
            raise ExerciseError("check_flow_pair: expected a pair (x_t, target), got "
                                f"{type(answer).__name__}")
        tt = t[:, None]
        _diagnose(f"check_flow_pair x_t (case {case})", answer[0], (1 - tt) * x0 + tt * noise, {
            "At t = 0 the path is at the data and at t = 1 at the noise: x_t = (1 - t) x0 + t noise.":
                tt * x0 + (1 - tt) * noise,
            "That is the diffusion mix with square roots; flow matching's path is linear in t.":
                (1 - tt).sqrt() * x0 + tt.sqrt() * noise,
            "The straight path also shrinks the data, (1 - t) x0, so that x_1 is pure noise; "
            "x0 + t noise only adds noise.": x0 + tt * noise,
        })
        _diagnose(f"check_flow_pair target (case {case})", answer[1], noise - x0, {
            "The velocity is d x_t / dt = noise - x0, not x0 - noise.": x0 - noise,
            "The target is the velocity noise - x0, not the noise alone (that is ε-prediction).": noise,
            "The target is the velocity noise - x0, not the data x0 (that is x0-prediction).": x0,
            "The velocity of the straight path is the same at every t: noise - x0, with no factor t.":
                tt * (noise - x0),
            "That is the v of v-prediction, with alpha_bar read as 1 - t; flow matching's velocity "
            "is d x_t / dt = noise - x0.": (1 - tt).sqrt() * noise - tt.sqrt() * x0,
        })
    _passed("check_flow_pair", cases)


class _VelocityProbe(torch.nn.Module):
    """A small fixed velocity network v(x, t) for 2-D points that records the times it is
    called at and refuses a t that is not a (B,) tensor in [0, 1]."""

    def __init__(self, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w1, self.w2 = torch.randn(3, 16, generator=g), torch.randn(16, 2, generator=g) / 4
        self.anchor = torch.nn.Parameter(torch.zeros(()))      # samplers read the device from it
        self.times: list[float] = []

    def forward(self, x: torch.Tensor, t, cond=None) -> torch.Tensor:
        if not isinstance(t, torch.Tensor) or t.shape != (x.shape[0],):
            got = f"shape {tuple(t.shape)}" if isinstance(t, torch.Tensor) else type(t).__name__
            raise TypeError(f"the model takes t as a (B,) tensor, one time per point, got {got}: "
                            "use torch.full((x.shape[0],), t)")
        if (t < 0).any() or (t > 1).any():
            raise ValueError(f"the model takes t in [0, 1], got {t.max().item():g}; it scales t "
                             "for its embedding itself")
        self.times.append(round(t[0].item(), 6))
        h = torch.tanh(torch.cat([x, t[:, None].to(x.dtype)], dim=1) @ self.w1)
        return h @ self.w2 - x + 3 * t[:, None] * x                   # (B, 2)


@checker(forbid=("flow_sample",))
def check_flow_euler(fn, cases: int = 3) -> None:
    """Chapter 10. ``fn(model, x_T, num_steps)`` must integrate dx/dt = model(x, t) from t = 1
    to 0 in ``num_steps`` equal Euler steps and return x_0, as ``flow_sample(model, FlowPath(),
    shape, num_steps=num_steps, method="euler", x_T=x_T)`` does."""
    g = torch.Generator().manual_seed(10)
    for num_steps in [4, 10, 1][:cases]:
        name = f"check_flow_euler (num_steps={num_steps})"
        x_T = torch.randn(6, 2, generator=g)
        probe = _VelocityProbe(seed=num_steps)
        answer = _call(name, fn, probe, x_T, num_steps)
        reference_probe = _VelocityProbe(seed=num_steps)
        reference = flow_sample(reference_probe, FlowPath(), tuple(x_T.shape), num_steps=num_steps,
                                method="euler", x_T=x_T.clone(), progress=False)
        times, expected = probe.times, reference_probe.times
        grid = FlowPath().grid(num_steps).tolist()
        if len(times) != len(expected):
            raise ExerciseError(f"{name}: your loop called the network {len(times)} times; "
                                f"{num_steps} Euler step(s) call it {num_steps} time(s), once at "
                                "the start of each step, on the grid 1, 1 − 1/n, …, 1/n "
                                "(num_steps + 1 points from 1 to 0, torch.linspace(1, 0, n + 1)).")
        if times == [round(1 - t, 6) for t in expected]:
            raise ExerciseError(f"{name}: start at t = 1, the noise, and walk down to t = 0, the "
                                f"data; you called the network at t = {times}.")
        if times == [round(t, 6) for t in grid[1:]]:
            raise ExerciseError(f"{name}: evaluate the velocity at the start of each step, t, not "
                                f"at its end: expected t = {expected}, got {times}.")
        if times != expected:
            raise ExerciseError(f"{name}: the network was called at t = {times}; Euler's method "
                                f"on num_steps equal steps calls it at t = {expected}.")
        x_forward = x_T.clone()
        for t, t_next in zip(grid[:-1], grid[1:]):            # steps of + dt: the sign flipped
            x_forward = x_forward + (t - t_next) * _VelocityProbe(num_steps)(
                x_forward, torch.full((6,), t))
        _diagnose(name, answer, reference, {
            "t decreases from 1 to 0, so each step moves x by (t_next − t) · v, a negative step "
            "times the velocity: you added the velocity with a positive step.": x_forward,
            "Return the last state x_0, the data end, not the starting noise.": x_T,
        })
    _passed("check_flow_euler", cases)


@checker(forbid=("flow_sample",))
def check_flow_heun_calls(fn) -> None:
    """Chapter 10. ``fn(num_steps)`` must return the number of network calls (an int) of
    ``flow_sample(..., method="heun", num_steps=num_steps)``: Heun steps, two calls each, except
    the last, an Euler step to t = 0."""
    name = "check_flow_heun_calls"
    answers, counted = {}, {}
    for n in [1, 2, 5, 10, 50]:
        answer = _answer_of(f"{name} (num_steps={n})", fn, (n,), "Return an int.")
        if isinstance(answer, bool) or not isinstance(answer, int):
            raise ExerciseError(f"{name} (num_steps={n}): expected an int, got "
                                f"{type(answer).__name__} {answer!r:.40}")
        probe = _VelocityProbe(seed=0)
        flow_sample(probe, FlowPath(), (2, 2), num_steps=n, method="heun",
                    generator=torch.Generator().manual_seed(0), progress=False)
        answers[n], counted[n] = answer, len(probe.times)
    if answers == counted:
        _passed(name, len(counted))
        print("network calls counted: " + ", ".join(f"{n} steps {c}" for n, c in counted.items()))
        return None
    named = {
        "That is ode_sample's count, 2n − 2: its first step is an Euler step because σ_T lies far "
        "above the next level. The flow's grid in t is uniform, so flow_sample's first step is a "
        "Heun step; only its last, to t = 0, is Euler.": {n: 2 * n - 2 for n in answers},
        "The last step, to t = 0, is a plain Euler step: one call, not two.":
            {n: 2 * n for n in answers},
        "A Heun step calls the network twice: at its start, and at the end point of Euler's "
        "guess.": {n: n for n in answers},
    }
    for hint, values in named.items():
        if answers == values:
            raise ExerciseError(f"{name}: not yet. {hint}")
    n = next(n for n in answers if answers[n] != counted[n])
    direction = "more" if answers[n] < counted[n] else "fewer"
    raise ExerciseError(f"{name} (num_steps={n}): not yet; flow_sample makes {direction} calls "
                        f"than your {answers[n]}. Count the Heun steps and the Euler steps "
                        "separately.")


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
def _score(expression: str) -> str:
    return f"def my_score(eps, alpha_bar):\n    return {expression}\n"


def _flow_pair(body: str) -> str:
    return "def my_flow_pair(x0, noise, t):\n    tt = t[:, None]\n" + body


_EULER = """def my_flow_euler(model, x_T, num_steps):
    times = torch.linspace(1, 0, num_steps + 1)
    x = x_T
    for t, t_next in zip(times[:-1], times[1:]):
        v = model(x, torch.full((x.shape[0],), t.item()))
        x = x + (t_next - t) * v
    return x
"""


def _euler(old: str, new: str) -> str:
    if old not in _EULER:
        raise ValueError(f"old: expected a piece of the Euler answer, got {old!r}")
    return _EULER.replace(old, new)


EXERCISES: dict[str, Exercise] = {
    "ex-sde-score": Exercise("transcription", reference="diffusion_lite.schedules.score_from_eps",
                             mistakes=(
        Mistake("against\\* the noise", _score("eps / (1 - alpha_bar).sqrt()")),
        Mistake("not the variance", _score("-eps / (1 - alpha_bar)")),
        Mistake("do not multiply", _score("-eps * (1 - alpha_bar).sqrt()")),
        Mistake("scaled x~", _score("-eps / ((1 - alpha_bar) / alpha_bar).sqrt()")),
        Mistake("noise level is 1 - alpha_bar", _score("-eps / alpha_bar.sqrt()")),
        Mistake("calls the package's score_from_eps", "def my_score(eps, alpha_bar):\n"
                "    return score_from_eps(NoiseSchedule.cosine(1000), eps, 1)\n"),
        Mistake("not the math module's", _score("-eps / math.sqrt(1 - alpha_bar)")),
        Mistake("in place", "def my_score(eps, alpha_bar):\n    eps /= -(1 - alpha_bar).sqrt()\n"
                "    return eps\n"),
    )),
    "ex-sde-flow": Exercise("transcription", reference="diffusion_lite.schedules.FlowPath.interpolate",
                            mistakes=(
        Mistake("At t = 0 the path is at the data", _flow_pair(
            "    return tt * x0 + (1 - tt) * noise, noise - x0\n")),
        Mistake("square roots", _flow_pair(
            "    return (1 - tt).sqrt() * x0 + tt.sqrt() * noise, noise - x0\n")),
        Mistake("also shrinks the data", _flow_pair("    return x0 + tt * noise, noise - x0\n")),
        Mistake("not x0 - noise", _flow_pair(
            "    return (1 - tt) * x0 + tt * noise, x0 - noise\n")),
        Mistake("that is ε-prediction", _flow_pair(
            "    return (1 - tt) * x0 + tt * noise, noise\n")),
        Mistake("no factor t", _flow_pair(
            "    return (1 - tt) * x0 + tt * noise, tt * (noise - x0)\n")),
        Mistake(r"t\[:, None\]", "def my_flow_pair(x0, noise, t):\n"
                "    return (1 - t) * x0 + t * noise, noise - x0\n"),
        Mistake("calls the package's interpolate", "def my_flow_pair(x0, noise, t):\n"
                "    return FlowPath().interpolate(x0, noise, t)\n"),
        Mistake("expected a pair", _flow_pair(
            "    return torch.stack([(1 - tt) * x0 + tt * noise, noise - x0])\n")),
    )),
    "ex-sde-euler": Exercise("loop", reference="diffusion_lite.solvers.flow_sample", mistakes=(
        Mistake("start at t = 1", _euler("torch.linspace(1, 0, num_steps + 1)",
                                         "torch.linspace(0, 1, num_steps + 1)")),
        Mistake("positive step", _euler("x + (t_next - t) * v", "x + (t - t_next) * v")),
        Mistake("start of each step", _euler("torch.full((x.shape[0],), t.item())",
                                             "torch.full((x.shape[0],), t_next.item())")),
        Mistake("your loop called the network", _euler("torch.linspace(1, 0, num_steps + 1)",
                                           "torch.linspace(1, 0, num_steps)")),
        Mistake(r"torch\.full", _euler("torch.full((x.shape[0],), t.item())", "t.item()")),
        Mistake(r"t in \[0, 1\]", _euler("torch.full((x.shape[0],), t.item())",
                                           "torch.full((x.shape[0],), 1000 * t.item())")),
        Mistake("in place", _euler("        x = x + (t_next - t) * v\n",
                                   "        x += (t_next - t) * v\n")),
        Mistake("not the starting noise", _euler("    return x\n", "    return x_T\n")),
        Mistake("calls the package's flow_sample", "def my_flow_euler(model, x_T, num_steps):\n"
                "    return flow_sample(model, FlowPath(), tuple(x_T.shape), num_steps=num_steps,\n"
                "                       method=\"euler\", x_T=x_T, progress=False)\n"),
    )),
    "ex-sde-heun": Exercise("written-checkable", mistakes=(
        Mistake("ode_sample's count", "def my_flow_heun_calls(num_steps):\n    return 2 * num_steps - 2\n"),
        Mistake("plain Euler step", "def my_flow_heun_calls(num_steps):\n    return 2 * num_steps\n"),
        Mistake("twice", "def my_flow_heun_calls(num_steps):\n    return num_steps\n"),
        Mistake("makes fewer calls than your", "def my_flow_heun_calls(num_steps):\n"
                "    return num_steps + 1\n"),
        Mistake("expected an int", "def my_flow_heun_calls(num_steps):\n"
                "    return 2.0 * num_steps - 1\n"),
    )),
}

