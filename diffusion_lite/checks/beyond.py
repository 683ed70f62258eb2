"""Checkers for chapter 13 (the same machinery on other data): inpainting by replacement and
the Chamfer distance between point clouds."""

from __future__ import annotations

import torch

from ..metrics import chamfer_distance
from ..schedules import NoiseSchedule, add_noise
from ._common import Exercise, _answer_of, _diagnose, _passed, checker


@checker
def check_replace_known(fn, cases: int = 3) -> None:
    """Check ``fn(schedule, x, known, mask, t_prev, noise)``: the state ``x`` at level ``t_prev``
    with its masked entries replaced by ``known`` noised to that level with ``noise``,
    sqrt(ᾱ_{t_prev}) known + sqrt(1 - ᾱ_{t_prev}) noise, the others kept."""
    g = torch.Generator().manual_seed(13)
    schedule = NoiseSchedule.cosine(100)
    for case in range(cases):
        x, known, noise = (torch.randn(4, 2, 12, generator=g) for _ in range(3))
        mask = torch.zeros(1, 1, 12, dtype=torch.bool)
        mask[..., : 3 + case] = True
        t_prev = torch.tensor([5, 40, 77, 99][: 4])[torch.randperm(4, generator=g)]
        name = f"check_replace_known (case {case})"
        answer = _answer_of(name, fn, (schedule, x, known, mask, t_prev, noise),
                            "x is (B, C, L), mask (1, 1, L) bool, t_prev a (B,) LongTensor.")

        def noised(t, known=known, noise=noise):
            return add_noise(schedule, known, t, noise)

        reference = torch.where(mask, noised(t_prev), x)
        _diagnose(name, answer, reference, {
            "Noise the known entries to the level t_prev before putting them in: the rest of x "
            "is that noisy, and the known part must match it.": torch.where(mask, known, x),
            "The mask marks the entries to KEEP from `known`; you replaced the others.":
                torch.where(mask, x, noised(t_prev)),
            "Noise the known entries to t_prev, the level x is at, not one step noisier.":
                torch.where(mask, noised((t_prev + 1).clamp(max=schedule.num_steps)), x),
            "Use sqrt(ᾱ) and sqrt(1 - ᾱ), not ᾱ and 1 - ᾱ.": torch.where(
                mask, schedule.alpha_bars[t_prev][:, None, None] * known
                + (1 - schedule.alpha_bars[t_prev][:, None, None]) * noise, x),
            "Keep the unknown entries of x as they are; only the masked ones change.":
                noised(t_prev),
        })
    _passed("check_replace_known", cases)


@checker
def check_chamfer_distance(fn, cases: int = 3) -> None:
    """Check ``fn(a, b)`` for point clouds (B, N, D) and (B, M, D): per pair, the mean squared
    distance from each point of a to its nearest point of b plus the same from b to a, (B,)."""
    g = torch.Generator().manual_seed(31)
    for case in range(cases):
        a = torch.randn(3, 7 + case, 3, generator=g)
        b = torch.randn(3, 5, 3, generator=g)
        name = f"check_chamfer_distance (case {case})"
        answer = _answer_of(name, fn, (a, b), "a is (B, N, D) and b is (B, M, D), with N != M.")
        d2 = torch.cdist(a, b) ** 2                                             # (B, N, M)
        a_to_b, b_to_a = d2.min(dim=2).values, d2.min(dim=1).values           # (B, N), (B, M)
        _diagnose(name, answer, chamfer_distance(a, b), {
            "Add both directions: a's points to their nearest in b, and b's to their nearest in "
            "a; one direction alone ignores points of b that nothing in a comes near.":
                a_to_b.mean(1),
            "That is only b to a; add a to b too.": b_to_a.mean(1),
            "Use squared distances (the book's convention), not distances.":
                d2.sqrt().min(dim=2).values.mean(1) + d2.sqrt().min(dim=1).values.mean(1),
            "Average each direction over its points (mean), do not sum: clouds of different "
            "sizes must stay comparable.": a_to_b.sum(1) + b_to_a.sum(1),
            "Take the nearest point (min over the other cloud), not the mean over all its "
            "points.": d2.mean(dim=2).mean(1) + d2.mean(dim=1).mean(1),
            "Return one number per pair of clouds, (B,), not one for the batch.":
                (a_to_b.mean() + b_to_a.mean()).expand(3),
        }, atol=1e-4)
    _passed("check_chamfer_distance", cases)


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
EXERCISES: dict[str, Exercise] = {}
