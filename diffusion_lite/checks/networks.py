"""Checkers for chapter 4, the U-Net: the timestep embedding and convolution sizes."""

from __future__ import annotations

import torch

from ..nn import timestep_embedding
from ._common import (
    Exercise,
    ExerciseError,
    _answer_of,
    _name_the_mistake,
    _passed,
    checker,
)


@checker
def check_timestep_embedding(fn, cases: int = 4) -> None:
    """Chapter 4. ``fn(t, dim)`` must return the (B, dim) sinusoidal embedding of the steps ``t``
    (a (B,) LongTensor in 1 ... T): sines of t · 10000^(-i / (dim/2)) for i = 0 … dim/2 - 1,
    followed by the cosines of the same."""
    g = torch.Generator().manual_seed(4)
    labels, answers, references, mistakes = [], [], [], {}
    for dim in [8, 16, 32, 64][:cases]:
        t = torch.randint(1, 1001, (6,), generator=g)
        t[:2] = torch.tensor([1, 1000])                       # the first and the last step
        answer = _answer_of(f"check_timestep_embedding (dim={dim})", fn, (t, dim),
                            "t is a (B,) LongTensor of steps; return a (B, dim) tensor.")
        half = dim // 2
        i = torch.arange(half, dtype=torch.float64)

        def features(steps=t, exponent=i / half, layout="sin-cos"):
            angles = steps.double()[:, None] * (10_000.0 ** -exponent)[None, :]   # (B, half)
            sin, cos = torch.sin(angles), torch.cos(angles)
            if layout == "interleaved":
                return torch.stack([sin, cos], dim=2).flatten(1)
            return torch.cat([cos, sin] if layout == "cos-sin" else [sin, cos], dim=1)

        wrong = {
            "Sines first, then cosines: torch.cat([sin, cos], dim=1).": features(layout="cos-sin"),
            "Concatenate the sines and cosines; do not interleave them.":
                features(layout="interleaved"),
            "The exponent is i / (dim / 2), with i counting the dim / 2 frequencies; you divided "
            "by dim.": features(exponent=i / dim),
            "The exponent is i / (dim / 2); you divided by dim / 2 - 1, a convention some code "
            "bases use, but not the equation of this exercise.": features(exponent=i / (half - 1)),
            "i counts from 0: the first frequency is 10000^0 = 1, one radian per step.":
                features(exponent=(i + 1) / half),
            "Off by one: embed the step t itself (t = 1 ... T, the papers' numbering); you "
            "embedded t - 1.": features(steps=t - 1),
            "Off by one: embed the step t itself; you embedded t + 1.": features(steps=t + 1),
        }
        labels.append(f"dim={dim}")
        answers.append(answer)
        references.append(timestep_embedding(t, dim))
        for hint, value in wrong.items():
            mistakes.setdefault(hint, []).append(value)
    # sin of angles up to 1000 rad: float32 rounding reaches ~1e-4
    _name_the_mistake("check_timestep_embedding", labels, answers, references, mistakes, atol=1e-3)
    _passed("check_timestep_embedding", len(labels))


@checker
def check_conv_output_size(fn) -> None:
    """Chapter 4. ``fn(size, kernel, stride, padding)`` must return the side length (an int)
    after a convolution: floor((size + 2·padding - kernel) / stride) + 1."""
    cases = [(8, 3, 1, 1), (8, 3, 2, 1), (7, 3, 2, 1), (28, 5, 1, 0), (32, 4, 2, 1), (9, 3, 2, 0)]
    answers = [fn(*case) for case in cases]
    for case, answer in zip(cases, answers):
        if not isinstance(answer, int):
            raise ExerciseError(f"check_conv_output_size{case}: expected an int, got "
                                f"{type(answer).__name__} {answer!r}. Round down with // .")
    formulas = {
        None: lambda n, k, s, p: (n + 2 * p - k) // s + 1,
        "Count the first position of the kernel too: add 1.": lambda n, k, s, p: (n + 2 * p - k) // s,
        "Padding is added on both sides: 2 × padding.": lambda n, k, s, p: (n + p - k) // s + 1,
        "Divide by the stride: the kernel jumps stride pixels.": lambda n, k, s, p: n + 2 * p - k + 1,
    }
    for hint, formula in formulas.items():
        if answers == [formula(*case) for case in cases]:
            if hint is None:
                return _passed("check_conv_output_size", len(cases))
            raise ExerciseError(f"check_conv_output_size: not yet. {hint}")
    case, answer = next((c, a) for c, a in zip(cases, answers) if a != formulas[None](*c))
    raise ExerciseError(f"check_conv_output_size{case}: expected {formulas[None](*case)}, got "
                        f"{answer}. Draw the positions of the kernel on a line of pixels.")


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
EXERCISES: dict[str, Exercise] = {}
