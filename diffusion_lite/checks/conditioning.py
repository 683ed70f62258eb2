"""Checkers for conditioning: classifier-free guidance and label dropout (chapter 7),
cross-attention and prompt accuracy (chapter 8)."""

from __future__ import annotations

import torch

from ._common import (
    Exercise,
    ExerciseError,
    _call_student,
    _close,
    _diagnose,
    _passed,
    checker,
)


@checker
def check_guided_eps(fn, cases: int = 4) -> None:
    """Chapter 7. ``fn(eps_cond, eps_uncond, w)`` must return classifier-free guidance,
    eps_uncond + w · (eps_cond - eps_uncond)."""
    g = torch.Generator().manual_seed(9)
    for w in [3.0, 0.0, 1.0, 7.5][:cases]:
        eps_cond, eps_uncond = torch.randn(3, 1, 4, 4, generator=g), torch.randn(3, 1, 4, 4, generator=g)
        mistakes = {   # checked only when the answer is wrong
            "You computed eps_cond + w · (eps_cond - eps_uncond) = (1 + w) · eps_cond - w · eps_uncond, "
            "Ho & Salimans' eq. 6, where their w is our w - 1. In this book w = 1 means plain "
            "conditional: start from eps_uncond, eps_uncond + w · (eps_cond - eps_uncond).":
                eps_cond + w * (eps_cond - eps_uncond),
            "The difference is eps_cond - eps_uncond (towards the class), not the reverse.":
                eps_uncond + w * (eps_uncond - eps_cond),
            "You swapped the roles of the two predictions: the guidance starts from the "
            "unconditional one and moves towards the conditional one.":
                eps_cond + w * (eps_uncond - eps_cond),
            "Add the unconditional prediction back: w · (eps_cond - eps_uncond) alone is only the "
            "classifier's direction.": w * (eps_cond - eps_uncond),
            "w multiplies the difference eps_cond - eps_uncond, not eps_cond alone: subtract "
            "eps_uncond inside the bracket.": eps_uncond + w * eps_cond,
        }
        answer = _call_student(f"check_guided_eps (w={w})", fn, eps_cond, eps_uncond, w)
        _diagnose(f"check_guided_eps (w={w})", answer, eps_uncond + w * (eps_cond - eps_uncond),
                  mistakes)
    _passed("check_guided_eps", cases)


@checker
def check_drop_labels(fn) -> None:
    """Chapter 7. ``fn(labels, p, null_class, generator)`` must replace each label by
    ``null_class`` with probability ``p``, independently, keep the others, and draw its random
    numbers from ``generator`` only: the same seed gives the same labels, another seed others."""
    g = torch.Generator().manual_seed(10)
    labels = torch.randint(0, 10, (20_000,), generator=g)
    for p in [0.0, 0.1, 0.5, 1.0]:
        name = f"check_drop_labels (p={p})"
        out = _call_student(name, fn, labels, p, 10, torch.Generator().manual_seed(11))
        if not isinstance(out, torch.Tensor) or out.shape != labels.shape:
            raise ExerciseError(f"{name}: expected a tensor of shape {tuple(labels.shape)}, got "
                                f"{getattr(out, 'shape', type(out).__name__)}")
        if out.dtype != labels.dtype:
            hint = (" You returned the mask of dropped labels; return the labels, with the "
                    "dropped ones replaced by null_class (torch.where)." if out.dtype == torch.bool
                    else " Build the result with torch.where(drop, null_class, labels), not by "
                    "arithmetic on the mask.")
            raise ExerciseError(f"{name}: expected labels of dtype {labels.dtype}, got "
                                f"{out.dtype}.{hint}")
        changed = out != labels
        if (out[changed] != 10).any():
            raise ExerciseError(f"{name}: labels that change must become null_class (10), "
                                f"not {out[changed][out[changed] != 10][0].item()}.")
        share = (out == 10).float().mean().item()
        tolerance = 4 * (p * (1 - p) / len(labels)) ** 0.5 + 1e-9
        if abs(share - p) > tolerance:
            hint = (" Drop when a uniform draw is *below* p, so that the chance is p, not 1 - p."
                    if abs(share - (1 - p)) <= tolerance else "")
            raise ExerciseError(f"{name}: {share:.3f} of the labels were dropped, expected about "
                                f"{p}.{hint}")
    a = fn(labels.clone(), 0.5, 10, torch.Generator().manual_seed(12))
    again = fn(labels.clone(), 0.5, 10, torch.Generator().manual_seed(12))
    if not torch.equal(a, again):
        raise ExerciseError("check_drop_labels: two generators with the same seed dropped "
                            "different labels, so your function draws from the global random "
                            "state; pass the generator you are given: torch.rand(..., "
                            "generator=generator).")
    b = fn(labels.clone(), 0.5, 10, torch.Generator().manual_seed(13))
    if torch.equal(a == 10, b == 10):
        raise ExerciseError("check_drop_labels: two different generators dropped the same labels; "
                            "draw the random numbers with the generator you are given, not with "
                            "one your function seeds itself.")
    by_class = torch.stack([(a[labels == c] == 10).float().mean() for c in range(10)])
    if (by_class - 0.5).abs().max() > 0.1:
        raise ExerciseError("check_drop_labels: some classes are dropped far more often than "
                            "others; drop each label independently of its value.")
    _passed("check_drop_labels", 7)


@checker
def check_cross_attention(fn, cases: int = 3) -> None:
    """Chapter 8. ``fn(q, k, v)`` with q (B, N, d) and k, v (B, L, d) must return
    softmax(q kᵀ / sqrt(d)) v, shape (B, N, d): each query's weights over the L keys sum to 1."""
    g = torch.Generator().manual_seed(14)
    for case in range(cases):
        d = [4, 8, 16][case % 3]
        name = f"check_cross_attention (case {case})"
        q = torch.randn(2, 6, d, generator=g)
        k, v = torch.randn(2, 5, d, generator=g), torch.randn(2, 5, d, generator=g)
        scores = q @ k.transpose(1, 2)                                   # (B, N, L)
        weights = torch.softmax(scores / d**0.5, dim=-1)
        answer = _call_student(name, fn, q, k, v)
        if isinstance(answer, torch.Tensor) and answer.shape == weights.shape and _close(answer, weights):
            raise ExerciseError(f"{name}: not yet. You returned the attention weights (B, N, L); "
                                "the output is those weights times v, (B, N, d).")
        _diagnose(name, answer, weights @ v, {
            "Scale the scores by 1 / sqrt(d) before the softmax.": torch.softmax(scores, dim=-1) @ v,
            "Divide by sqrt(d), not d.": torch.softmax(scores / d, dim=-1) @ v,
            "Divide the scores by sqrt(d), do not multiply by it.":
                torch.softmax(scores * d**0.5, dim=-1) @ v,
            "d is the width of a query or key, the last axis (q.shape[-1]), not the number of "
            "pixels (q.shape[1]).": torch.softmax(scores / q.shape[1] ** 0.5, dim=-1) @ v,
            "d is the width of a query or key, the last axis (q.shape[-1]), not the number of "
            "words (k.shape[1]).": torch.softmax(scores / k.shape[1] ** 0.5, dim=-1) @ v,
            "Take the softmax over the keys (the words, last axis), so that each pixel's weights "
            "sum to 1.": torch.softmax(scores / d**0.5, dim=1) @ v,
            "The softmax runs over the keys of each example, the last axis, not over the batch.":
                torch.softmax(scores / d**0.5, dim=0) @ v,
            "The weights average the values v, not the keys k.": weights @ k,
        }, atol=1e-5)
    _passed("check_cross_attention", cases)


@checker
def check_prompt_accuracy(fn) -> None:
    """Chapter 8. ``fn(described, asked)``, both (N, 3) attribute indices, must return the share
    of rows where colour, shape and position all agree, as a float."""
    g = torch.Generator().manual_seed(15)
    asked = torch.randint(0, 3, (200, 3), generator=g)
    described = asked.clone()
    wrong = torch.rand(200, 3, generator=g) < 0.2
    described[wrong] = (described[wrong] + 1) % 3
    name = "check_prompt_accuracy"
    answer = _call_student(name, fn, described, asked)
    if isinstance(answer, torch.Tensor) and answer.numel() == 3:
        raise ExerciseError(f"{name}: not yet. You got one number per attribute: reduce each row "
                            "with .all(dim=1) first, then average over the rows.")
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        answer = answer.item()
    if not isinstance(answer, (float, int)) or isinstance(answer, bool):
        raise ExerciseError(f"{name}: expected a number, got {type(answer).__name__}")
    all_right = (described == asked).all(dim=1).float()
    reference = all_right.mean().item()
    mistakes = {   # checked only when the answer is wrong
        "You averaged over attributes; a sample counts only if all three are right: "
        ".all(dim=1) first.": (described == asked).float().mean().item(),
        "A sample counts if *all* attributes agree (.all), not any of them.":
            (described == asked).any(dim=1).float().mean().item(),
        "You returned how many rows are right; return the share: divide by the number of rows "
        "(or take the mean).": all_right.sum().item(),
        "Return a share between 0 and 1, not a percentage.": 100 * reference,
        "That is the share of rows with a mistake; return the share that is all right.":
            1 - reference,
    }
    if abs(answer - reference) <= 1e-6:
        return _passed(name, 1)
    for hint, wrong in mistakes.items():
        if abs(answer - wrong) <= 1e-6:
            raise ExerciseError(f"{name}: not yet. {hint}")
    raise ExerciseError(f"{name}: expected {reference:.3f}, got {answer:.3f}")


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
EXERCISES: dict[str, Exercise] = {}
