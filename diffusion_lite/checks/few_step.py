"""Checkers for chapter 11, few-step sampling: the progressive-distillation target."""

from __future__ import annotations

import torch

from ._common import Exercise, _call_student, _diagnose, _passed, checker


@checker
def check_distillation_target(fn, cases: int = 4) -> None:
    """Chapter 11. ``fn(x_t, x_next, a_t, s_t, a_next, s_next)`` must return the progressive-
    distillation target (x_next - (s_next / s_t) x_t) / (a_next - (s_next / s_t) a_t)."""
    g = torch.Generator().manual_seed(18)
    for case in range(cases):
        x_t, x_next = torch.randn(5, 2, generator=g), torch.randn(5, 2, generator=g)
        ab_t = torch.rand(5, 1, generator=g) * 0.5 + 0.01
        ab_next = ab_t + (1 - ab_t) * torch.rand(5, 1, generator=g) * 0.9
        a_t, s_t, a_next, s_next = ab_t.sqrt(), (1 - ab_t).sqrt(), ab_next.sqrt(), (1 - ab_next).sqrt()
        ratio = s_next / s_t
        name = f"check_distillation_target (case {case})"
        _diagnose(name, _call_student(name, fn, x_t, x_next, a_t, s_t, a_next, s_next),
                  (x_next - ratio * x_t) / (a_next - ratio * a_t), {
            "The ratio is s_next / s_t (noise levels), not s_t / s_next.":
                (x_next - x_t * s_t / s_next) / (a_next - a_t * s_t / s_next),
            "The denominator is a_next - (s_next / s_t) · a_t: subtract, do not add.":
                (x_next - ratio * x_t) / (a_next + ratio * a_t),
            "The numerator is x_next - (s_next / s_t) · x_t: subtract, do not add.":
                (x_next + ratio * x_t) / (a_next - ratio * a_t),
            "The denominator is a_next - (s_next / s_t) · a_t: x_t holds a_t · x0, so the ratio "
            "multiplies a_t, not 1.": (x_next - ratio * x_t) / (a_next - ratio),
            "Use square roots: a = sqrt(alpha_bar), s = sqrt(1 - alpha_bar); the arguments are "
            "already the roots, do not square them.":
                (x_next - (s_next / s_t) ** 2 * x_t) / (a_next**2 - (s_next / s_t) ** 2 * a_t**2),
            "You swapped x_t and x_next: the student starts at x_t, where the teacher started, "
            "and must land on the teacher's x_next.":
                (x_t - ratio * x_next) / (a_next - ratio * a_t),
            "That is the teacher's landing point x_next itself; the target is the x0 estimate that "
            "makes one DDIM step from x_t land there: solve the step for x0.": x_next,
        }, atol=1e-4)
    _passed("check_distillation_target", cases)


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
EXERCISES: dict[str, Exercise] = {}
