"""Checkers for chapter 10: the score from the noise prediction, and flow matching's
path and velocity."""

from __future__ import annotations

import torch

from ._common import Exercise, ExerciseError, _call_student, _diagnose, _passed, checker


@checker
def check_score(fn, cases: int = 4) -> None:
    """Chapter 10. ``fn(eps, alpha_bar)`` must return the score -eps / sqrt(1 - alpha_bar)."""
    g = torch.Generator().manual_seed(16)
    for case in range(cases):
        eps = torch.randn(5, 2, generator=g)
        alpha_bar = torch.rand(5, 1, generator=g) * 0.98 + 0.01
        sigma = ((1 - alpha_bar) / alpha_bar).sqrt()
        name = f"check_score (case {case})"
        _diagnose(name, _call_student(name, fn, eps, alpha_bar), -eps / (1 - alpha_bar).sqrt(), {
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


@checker
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


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
EXERCISES: dict[str, Exercise] = {}
