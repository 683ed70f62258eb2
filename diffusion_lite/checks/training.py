"""Checkers for the training chapters: the loss (chapter 2), the moving average and the
class-histogram distance (chapter 5)."""

from __future__ import annotations

import torch

from ..losses import epsilon_loss
from ..schedules import NoiseSchedule, add_noise
from ._common import Exercise, ExerciseError, _call_student, _diagnose, _passed, checker


class _NoiseOracle(torch.nn.Module):
    """A "model" whose output is a fixed, known function of (x_t, t), for checking losses."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(0.5))

    def forward(self, x_t, t, cond=None):
        return self.scale * x_t + t.float()[:, None] / 1000


@checker
def check_epsilon_loss(fn, cases: int = 5) -> None:
    """Chapter 2. ``fn(model, schedule, x0, t, noise)`` must return the mean squared error
    between ``noise`` and the model's prediction at x_t = add_noise(schedule, x0, t, noise)."""
    g = torch.Generator().manual_seed(2)
    schedule, model = NoiseSchedule.linear(1000), _NoiseOracle()
    for _ in range(cases):
        x0, noise = torch.randn(16, 2, generator=g), torch.randn(16, 2, generator=g)
        t = torch.randint(1, 1001, (16,), generator=g)
        x_t = add_noise(schedule, x0, t, noise)
        x_t_prev = add_noise(schedule, x0, t - 1, noise)       # the off-by-one mistake
        answer = fn(model, schedule, x0.clone(), t.clone(), noise.clone())
        reference = epsilon_loss(model, schedule, x0, t=t, noise=noise)
        with torch.no_grad():
            _diagnose("check_epsilon_loss", answer.detach() if isinstance(answer, torch.Tensor)
                      else answer, reference.detach(), {
                "The model should see the noisy x_t, not the clean x0.":
                    ((model(x0, t) - noise) ** 2).mean(),
                "The target is the noise, not the clean sample x0.":
                    ((model(x_t, t) - x0) ** 2).mean(),
                "Average over the elements (a mean), not a sum.":
                    ((model(x_t, t) - noise) ** 2).sum(),
                "You summed over the d coordinates of each sample (the squared norm of Ho et "
                "al.'s eq. 14) and averaged over the batch: that is d times the book's loss, "
                "which averages over the coordinates too, (1/d)||eps - eps_theta||^2, as "
                "epsilon_loss does. Take the mean over every element.":
                    ((model(x_t, t) - noise) ** 2).sum(1).mean(),
                "The target is the noise eps, not the noisy input x_t.":
                    ((model(x_t, t) - x_t) ** 2).mean(),
                "Off by one: add_noise(schedule, x0, t, noise) takes the step t itself (t = 1 "
                "... T, schedule.alpha_bars[t] is alpha_bar_t); you noised to step t - 1.":
                    ((model(x_t_prev, t) - noise) ** 2).mean(),
                "The model must be told the step t that x_t was noised to; you passed t - 1.":
                    ((model(x_t, t - 1) - noise) ** 2).mean(),
                "Square the error: the loss is a mean *squared* error.":
                    (model(x_t, t) - noise).abs().mean(),
            })
        if not answer.requires_grad:
            raise ExerciseError("check_epsilon_loss: the loss carries no gradient; do not "
                                "detach it or compute it under torch.no_grad().")
    return _passed("check_epsilon_loss", cases)


@checker
def check_ema_update(fn, cases: int = 4) -> None:
    """Chapter 5. ``fn(ema_weight, weight, decay)`` must return the averaged weight after one
    step: decay · ema_weight + (1 - decay) · weight (a new tensor; the inputs stay unchanged)."""
    g = torch.Generator().manual_seed(5)
    for decay in [0.9, 0.99, 0.995, 0.5][:cases]:
        ema_weight, weight = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
        answer = _call_student("check_ema_update", fn, ema_weight, weight, decay)
        _diagnose(f"check_ema_update (decay={decay})", answer,
                  decay * ema_weight + (1 - decay) * weight, {
            "The old average gets the weight `decay`, the new weights get `1 - decay`: "
            "you have them swapped.": (1 - decay) * ema_weight + decay * weight,
            "Keep the old average too: decay · ema_weight + (1 - decay) · weight.":
                (1 - decay) * weight,
            "The two weights must sum to 1: use 1 - decay for the new weights.":
                decay * ema_weight + weight,
            "You returned the new weights unchanged, as if decay were 0: the average must "
            "move only a step (1 - decay) towards them.": weight,
            "You returned the old average unchanged, as if decay were 1: it must move a step "
            "(1 - decay) towards the new weights.": ema_weight,
            "That is the plain mean of the two, decay = 0.5 whatever decay you are given.":
                0.5 * (ema_weight + weight),
            "Move the average towards the new weights, ema_weight + (1 - decay) · (weight - "
            "ema_weight); you moved it away from them.":
                ema_weight + (1 - decay) * (ema_weight - weight),
        })
    _passed("check_ema_update", cases)


@checker
def check_total_variation(fn, cases: int = 4) -> None:
    """Chapter 5. ``fn(p, q)`` must return the total variation distance between two
    histograms (1-d tensors that each sum to 1) as a float: half the sum of |p - q|."""
    g = torch.Generator().manual_seed(6)
    for case in range(cases):
        p = torch.rand(10, generator=g) + 0.1
        q = torch.rand(10, generator=g) + 0.1
        p, q = p / p.sum(), q / q.sum()
        answer = fn(p.clone(), q.clone())
        if isinstance(answer, torch.Tensor) and answer.numel() == 1:
            answer = answer.item()
        if not isinstance(answer, (float, int)):
            raise ExerciseError(f"check_total_variation: expected a number, got {type(answer).__name__}")
        reference = 0.5 * (p - q).abs().sum().item()
        if abs(answer - reference) <= 1e-6:
            continue
        mistakes = {
            "Halve the sum: total variation is 0.5 · Σ|p - q|, so that it lies in [0, 1].":
                (p - q).abs().sum().item(),
            "Take the absolute value of each difference before summing.": 0.5 * (p - q).sum().item(),
            "Use absolute differences, not squared ones.": 0.5 * ((p - q) ** 2).sum().item(),
            "Sum over the classes; do not average.": 0.5 * (p - q).abs().mean().item(),
            "That is the largest difference of a single class; total variation adds the "
            "differences of all classes, then halves the sum.": (p - q).abs().max().item(),
            "That is the largest difference of a single class, halved; sum over all classes.":
                0.5 * (p - q).abs().max().item(),
            "That is the Euclidean (L2) distance; total variation adds absolute differences.":
                (p - q).pow(2).sum().sqrt().item(),
            "That is the overlap Σ_k min(p_k, q_k), which equals 1 - total variation: it is 1 "
            "for equal histograms, where the distance must be 0.": torch.minimum(p, q).sum().item(),
        }
        for hint, wrong in mistakes.items():
            if abs(answer - wrong) <= 1e-6:
                raise ExerciseError(f"check_total_variation: not yet. {hint}")
        raise ExerciseError(f"check_total_variation (case {case}): expected {reference:.4f}, got "
                            f"{answer:.4f}. Write out 0.5 · Σ_k |p_k - q_k| for two classes by hand.")
    _passed("check_total_variation", cases)


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
EXERCISES: dict[str, Exercise] = {}
