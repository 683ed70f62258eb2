"""Checkers for conditioning: classifier-free guidance, label dropout and negative guidance
(chapter 7), cross-attention, prompt accuracy and three broken cross-attentions to diagnose
(chapter 8)."""

from __future__ import annotations

import functools

import torch

from ._common import (
    NOT_IMPLEMENTED,
    Exercise,
    ExerciseError,
    Mistake,
    _call_student,
    _close,
    _diagnose,
    _passed,
    checker,
)


@checker(forbid=("guided_eps",))
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


@checker(forbid=("drop_labels",))
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
            hint = (" You dropped 1 - p of them: drop where a uniform draw is *below* p, and "
                    "torch.where(drop, null_class, labels) puts null_class where drop is True."
                    if abs(share - (1 - p)) <= tolerance else
                    " All or none were dropped: draw one number per label, "
                    "torch.rand(labels.shape, generator=generator), not one for the whole batch."
                    if share in (0.0, 1.0) else "")
            raise ExerciseError(f"{name}: {share:.3f} of the labels were dropped, expected about "
                                f"{p}.{hint}")
    name = "check_drop_labels (p=0.5)"
    a = _call_student(name, fn, labels, 0.5, 10, torch.Generator().manual_seed(12))
    again = _call_student(name, fn, labels, 0.5, 10, torch.Generator().manual_seed(12))
    if not torch.equal(a, again):
        raise ExerciseError("check_drop_labels: two generators with the same seed dropped "
                            "different labels, so your function draws from the global random "
                            "state; pass the generator you are given: torch.rand(..., "
                            "generator=generator).")
    b = _call_student(name, fn, labels, 0.5, 10, torch.Generator().manual_seed(13))
    if torch.equal(a == 10, b == 10):
        raise ExerciseError("check_drop_labels: two different generators dropped the same labels; "
                            "draw the random numbers with the generator you are given, not with "
                            "one your function seeds itself.")
    by_class = torch.stack([(a[labels == c] == 10).float().mean() for c in range(10)])
    if (by_class - 0.5).abs().max() > 0.1:
        raise ExerciseError("check_drop_labels: some classes are dropped far more often than "
                            "others; drop each label independently of its value.")
    few = labels[:20]
    counts = {int((_call_student(name, fn, few, 0.5, 10, torch.Generator().manual_seed(seed))
                   == 10).sum()) for seed in range(100, 120)}
    if len(counts) == 1:
        raise ExerciseError(f"check_drop_labels: with 20 labels and p = 0.5, twenty seeds all "
                            f"dropped exactly {counts.pop()} labels: you drop a fixed count, "
                            "round(p · n) (a randperm, say). Each label must be dropped "
                            "independently, with its own uniform draw, so that the number dropped "
                            "varies from batch to batch (binomially).")
    _passed("check_drop_labels", 8)


@checker(forbid=("attend",))
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


def _accuracy_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(described, asked) pairs: five rows whose colours all agree, then 200 random rows."""
    asked = torch.tensor([[0, 1, 2], [1, 2, 0], [2, 0, 1], [3, 1, 1], [1, 1, 3]])
    wrong = torch.tensor([[0, 0, 0], [0, 1, 0], [0, 0, 0], [0, 1, 1], [0, 0, 1]], dtype=torch.bool)
    small = (torch.where(wrong, (asked + 1) % 3, asked), asked)
    g = torch.Generator().manual_seed(15)
    asked = torch.randint(0, 3, (200, 3), generator=g)
    wrong = torch.rand(200, 3, generator=g) < 0.2
    return [small, (torch.where(wrong, (asked + 1) % 3, asked), asked)]


@checker(forbid=("prompt_accuracy", "attributes_match"))
def check_prompt_accuracy(fn) -> None:
    """Chapter 8. ``fn(described, asked)``, both (N, 3) attribute indices, must return the share
    of rows where colour, shape and position all agree, as a float."""
    cases = _accuracy_cases()
    for case, (described, asked) in enumerate(cases):
        name = f"check_prompt_accuracy (case {case}, {len(asked)} rows)"
        answer = _call_student(name, fn, described, asked)
        if isinstance(answer, torch.Tensor) and answer.numel() == 3:
            raise ExerciseError(f"{name}: not yet. You got one number per attribute: reduce each "
                                "row with .all(dim=1) first, then average over the rows.")
        if isinstance(answer, torch.Tensor) and answer.numel() == 1:
            raise ExerciseError(f"{name}: expected a float, got a tensor of shape "
                                f"{tuple(answer.shape)}; turn it into a Python number with .item().")
        if not isinstance(answer, (float, int)) or isinstance(answer, bool):
            raise ExerciseError(f"{name}: expected a float, got {type(answer).__name__}")
        agree = described == asked                                       # (N, 3)
        all_right = agree.all(dim=1).float()
        reference = all_right.mean().item()
        mistakes = {   # checked only when the answer is wrong
            "You averaged over attributes; a sample counts only if all three are right: "
            ".all(dim=1) first.": agree.float().mean().item(),
            "A sample counts if *all* attributes agree (.all), not any of them.":
                agree.any(dim=1).float().mean().item(),
            "You returned how many rows are right; return the share: divide by the number of "
            "rows (or take the mean).": all_right.sum().item(),
            "Return a share between 0 and 1, not a percentage.": 100 * reference,
            "That is the share of rows with a mistake; return the share that is all right.":
                1 - reference,
            "You reduced over the wrong axis: .all(dim=0) asks, for each attribute, whether it "
            "agrees in every row; a row (one sample) is right when its three attributes agree, "
            ".all(dim=1).": agree.all(dim=0).float().mean().item(),
        }
        if abs(answer - reference) <= 1e-6:
            continue
        for hint, wrong in mistakes.items():
            if abs(answer - wrong) <= 1e-6:
                raise ExerciseError(f"{name}: not yet. {hint}")
        raise ExerciseError(f"{name}: expected {reference:.3f}, got {answer:.3f}")
    _passed("check_prompt_accuracy", len(cases))


def _value_checker(check):
    """Decorate a checker of a value the student sets (a choice, a dict of choices): ``None``,
    the value before the student answers, is reported as not answered yet, and the error is
    raised afresh here so that its traceback does not show the checker's lines."""
    @functools.wraps(check)
    def wrapped(answer, *args, **kwargs):
        __tracebackhide__ = True        # noqa: F841 (read by IPython and pytest)
        if answer is None:
            raise ExerciseError(f"{check.__name__}: {NOT_IMPLEMENTED}") from None
        try:
            return check(answer, *args, **kwargs)
        except ExerciseError as error:
            message = str(error)
        raise ExerciseError(message) from None
    return wrapped


def _choice(name: str, answer, options) -> str:
    if not isinstance(answer, str) or answer.strip().lower() not in options:
        raise ExerciseError(f"{name}: expected one of {', '.join(repr(o) for o in options)} "
                            f"(a string), got {answer!r:.60}")
    return answer.strip().lower()


def _agreement(model, schedule, w: float, n: int = 200, steps: int = 10) -> float:
    """The share of ``n`` guided DDIM samples (digits 0-9 asked for in turn, seeded noise) that
    the digit classifier reads as the digit asked for."""
    from ..features import digits_classifier
    from ..samplers import ddim_sample
    device = next(model.parameters()).device
    labels = torch.arange(n) % 10
    x_T = torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(7))
    samples = ddim_sample(model, schedule, x_T.shape, x_T=x_T.to(device), cond=labels.to(device),
                          guidance_scale=w, num_steps=steps, progress=False).cpu()
    with torch.no_grad():
        read = digits_classifier()(samples).argmax(dim=1)
    return (read == labels).float().mean().item()


NEGATIVE_GUIDANCE_CHOICES = {"a": "higher than at w = 0", "b": "about the same as at w = 0",
                             "c": "lower than at w = 0"}


@_value_checker
def check_negative_guidance(prediction, model, schedule, n: int = 200) -> None:
    """Chapter 7. ``prediction``, one of ``NEGATIVE_GUIDANCE_CHOICES``, says how the share of
    samples read as the requested digit at w = -1 compares with w = 0. The checker samples
    ``n`` digits at both scales from the same noise, prints both shares, and grades the
    prediction against what it measured (a gap within two standard errors is "the same")."""
    name = "check_negative_guidance"
    choice = _choice(name, prediction, NEGATIVE_GUIDANCE_CHOICES)
    at_zero, at_minus_one = _agreement(model, schedule, 0.0, n), _agreement(model, schedule, -1.0, n)
    error = ((at_zero * (1 - at_zero) + at_minus_one * (1 - at_minus_one)) / n) ** 0.5
    gap = at_minus_one - at_zero
    measured = "a" if gap > 2 * error else "c" if gap < -2 * error else "b"
    print(f"measured on {n} samples from the same noise: agreement {at_zero:.3f} at w = 0, "
          f"{at_minus_one:.3f} at w = -1 (difference {gap:+.3f}, standard error {error:.3f}); "
          f"you predicted {NEGATIVE_GUIDANCE_CHOICES[choice]}.")
    if choice == measured:
        return print(f"✅ {name}: your prediction agrees with the measurement.")
    why = {
        "a": "w = -1 does not ask for the class more strongly: the guided prediction is then "
             "2 eps_uncond - eps_cond, one step *away* from the conditional prediction, and it "
             "targets p(x_t) p(c | x_t)^(-1), which favours what the implicit classifier finds "
             "least like c.",
        "b": "w multiplies eps_cond - eps_uncond, which is not zero: w = -1 lies as far from the "
             "unconditional model (w = 0) on one side as the conditional model (w = 1) on the "
             "other, and it pushes away from c as w = 1 pulls towards it.",
        "c": "the measurement did not fall below w = 0 by more than two standard errors.",
    }[choice]
    raise ExerciseError(f"{name}: not what was measured ({NEGATIVE_GUIDANCE_CHOICES[measured]}). "
                        f"{why}")


# Three broken cross-attentions for chapter 8's bug hunt: each returns (output, weights) for
# q (B, N, d) and k, v (B, L, d), like one head of the chapter's equation, and each has one fault.
def _suspect_a(q, k, v):
    weights = torch.softmax(q @ k.transpose(1, 2), dim=-1)                # (B, N, L)
    return weights @ v, weights


def _suspect_b(q, k, v):
    weights = torch.softmax(q @ k.transpose(1, 2) / q.shape[-1] ** 0.5, dim=1)
    return weights @ v, weights


def _suspect_c(q, k, v):
    weights = torch.softmax(q @ k.transpose(1, 2) / q.shape[-1], dim=-1)
    return weights @ v, weights


SUSPECTS = {"A": _suspect_a, "B": _suspect_b, "C": _suspect_c}
FAULTS = {"a": "the softmax runs over the wrong axis (the pixels, not the words)",
          "b": "the scores are not divided by sqrt(d)",
          "c": "the scores are divided by d instead of sqrt(d)",
          "d": "the weights average the keys k instead of the values v"}


def _with_fault(fault: str, q, k, v):
    """One head of cross-attention with ``fault`` (a key of ``FAULTS``): (output, weights)."""
    scores = q @ k.transpose(1, 2)                                         # (B, N, L)
    d = q.shape[-1]
    weights = torch.softmax(scores / {"b": 1.0, "c": d}.get(fault, d**0.5),
                            dim=1 if fault == "a" else -1)
    return weights @ (k if fault == "d" else v), weights


@_value_checker
def check_attention_diagnosis(diagnosis) -> None:
    """Chapter 8. ``diagnosis`` maps each suspect of ``SUSPECTS`` ("A", "B", "C") to the key
    of ``FAULTS`` that names its fault. The first wrong entry is answered with the name of the
    diagnostic that rules it out (do the weights' rows sum to 1, are the weights sharper or
    flatter than softmax(q kᵀ / sqrt(d)), is the output the weights times v), not with what the
    diagnostic shows on the suspect, so that the student runs it."""
    name = "check_attention_diagnosis"
    if not isinstance(diagnosis, dict) or set(diagnosis) != set(SUSPECTS):
        raise ExerciseError(f"{name}: expected a dict with the keys {sorted(SUSPECTS)}, one "
                            f"fault for each suspect, got {diagnosis!r:.80}")
    g = torch.Generator().manual_seed(16)
    q, k, v = (torch.randn(2, *shape, 16, generator=g) for shape in [(64,), (8,), (8,)])
    for suspect, fn in SUSPECTS.items():
        choice = _choice(f"{name} (suspect {suspect})", diagnosis[suspect], FAULTS)
        out, weights = fn(q, k, v)
        fault = next(f for f in FAULTS if torch.allclose(out, _with_fault(f, q, k, v)[0]))
        if choice == fault:
            continue
        rows = (weights.sum(dim=-1) - 1).abs().max().item()
        if choice == "d":
            diagnostic = "is its output its weights times v?"
        elif rows > 1e-4 or choice == "a":
            diagnostic = "do its weights' rows (one pixel, over the words) sum to 1?"
        else:
            diagnostic = "are its weights sharper or flatter than softmax(q kᵀ / sqrt(d))?"
        raise ExerciseError(f"{name}: suspect {suspect} is not ({choice}): the diagnostic "
                            f"\"{diagnostic}\" disagrees with {FAULTS[choice]}. Run it on "
                            f"suspect {suspect} and ask what that fault would show.")
    print(f"✅ {name}: all {len(SUSPECTS)} faults named.")


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
def _guided(body: str) -> str:
    return "def my_guided_eps(eps_cond, eps_uncond, w):\n" + body


def _dropped(body: str) -> str:
    return "def my_drop_labels(labels, p, null_class, generator):\n" + body


def _attention(body: str) -> str:
    return "def my_cross_attention(q, k, v):\n    d = q.shape[-1]\n" + body


def _accuracy(body: str) -> str:
    return "def my_accuracy(described, asked):\n" + body


def _diagnosis(a: str, b: str, c: str) -> str:
    return f'my_diagnosis = {{"A": "{a}", "B": "{b}", "C": "{c}"}}\n'


_CHAPTER_7_MODEL = 'model, schedule = dl.zoo.load("digits_unet_cond", device="cpu")\n'

EXERCISES: dict[str, Exercise] = {
    "ex-guidance-formula": Exercise("transcription", reference="diffusion_lite.samplers.guided_eps",
                                    mistakes=(
        Mistake("Ho & Salimans' eq. 6", _guided(
            "    return eps_cond + w * (eps_cond - eps_uncond)\n")),
        Mistake("towards the class", _guided(
            "    return eps_uncond + w * (eps_uncond - eps_cond)\n")),
        Mistake("swapped the roles", _guided(
            "    return eps_cond + w * (eps_uncond - eps_cond)\n")),
        Mistake("Add the unconditional prediction back", _guided(
            "    return w * (eps_cond - eps_uncond)\n")),
        Mistake("subtract eps_uncond inside the bracket", _guided(
            "    return eps_uncond + w * eps_cond\n")),
        Mistake("changed its input in place", _guided(
            "    eps_cond -= eps_uncond\n    return eps_uncond + w * eps_cond\n")),
        Mistake("expected a torch.Tensor", _guided(
            "    return (eps_uncond + w * (eps_cond - eps_uncond)).numpy()\n")),
    )),
    "ex-guidance-dropout": Exercise("transcription", reference="diffusion_lite.losses.drop_labels",
                                    mistakes=(
        Mistake("global random state", _dropped(
            "    drop = torch.rand(labels.shape) < p\n"
            "    return torch.where(drop, torch.full_like(labels, null_class), labels)\n")),
        Mistake("one your function seeds itself", _dropped(
            "    drop = torch.rand(labels.shape, generator=torch.Generator().manual_seed(0)) < p\n"
            "    return torch.where(drop, torch.full_like(labels, null_class), labels)\n")),
        Mistake("below\\* p", _dropped(
            "    drop = torch.rand(labels.shape, generator=generator) > p\n"
            "    return torch.where(drop, torch.full_like(labels, null_class), labels)\n")),
        Mistake("puts null_class where drop is True", _dropped(
            "    drop = torch.rand(labels.shape, generator=generator) < p\n"
            "    return torch.where(drop, labels, torch.full_like(labels, null_class))\n")),
        Mistake("one number per label", _dropped(
            "    drop = torch.rand(1, generator=generator) < p\n"
            "    return torch.where(drop, torch.full_like(labels, null_class), labels)\n")),
        Mistake("returned the mask", _dropped(
            "    return torch.rand(labels.shape, generator=generator) < p\n")),
        Mistake("changed its input in place", _dropped(
            "    labels[torch.rand(labels.shape, generator=generator) < p] = null_class\n"
            "    return labels\n")),
        Mistake("fixed count", _dropped(
            "    drop = torch.zeros(labels.shape, dtype=torch.bool)\n"
            "    drop[torch.randperm(len(labels), generator=generator)[:round(p * len(labels))]] = True\n"
            "    return torch.where(drop, torch.full_like(labels, null_class), labels)\n")),
        Mistake("not by arithmetic on the mask", _dropped(
            "    drop = torch.rand(labels.shape, generator=generator) < p\n"
            "    return torch.where(drop, float(null_class), labels.float())\n")),
    )),
    "ex-guidance-negative": Exercise("prediction", setup=_CHAPTER_7_MODEL, mistakes=(
        Mistake("targets p\\(x_t\\) p\\(c \\| x_t\\)\\^\\(-1\\)", 'my_prediction = "a"\n'),
        Mistake("is not zero", 'my_prediction = "b"\n'),
        Mistake("expected one of", 'my_prediction = "lower"\n'),
        Mistake("expected one of", "my_prediction = 3\n"),
    )),
    "ex-text-attention": Exercise("transcription", reference="diffusion_lite.nn.attend",
                                  mistakes=(
        Mistake("Scale the scores by 1 / sqrt\\(d\\)", _attention(
            "    return torch.softmax(q @ k.transpose(1, 2), dim=-1) @ v\n")),
        Mistake("Divide by sqrt\\(d\\), not d", _attention(
            "    return torch.softmax(q @ k.transpose(1, 2) / d, dim=-1) @ v\n")),
        Mistake("do not multiply", _attention(
            "    return torch.softmax(q @ k.transpose(1, 2) * d**0.5, dim=-1) @ v\n")),
        Mistake("not the number of pixels", _attention(
            "    return torch.softmax(q @ k.transpose(1, 2) / q.shape[1] ** 0.5, dim=-1) @ v\n")),
        Mistake("Take the softmax over the keys", _attention(
            "    return torch.softmax(q @ k.transpose(1, 2) / d**0.5, dim=1) @ v\n")),
        Mistake("not over the batch", _attention(
            "    return torch.softmax(q @ k.transpose(1, 2) / d**0.5, dim=0) @ v\n")),
        Mistake("not the keys k", _attention(
            "    return torch.softmax(q @ k.transpose(1, 2) / d**0.5, dim=-1) @ k\n")),
        Mistake("returned the attention weights", _attention(
            "    return torch.softmax(q @ k.transpose(1, 2) / d**0.5, dim=-1)\n")),
        Mistake("changed its input in place", _attention(
            "    q /= d**0.5\n    return torch.softmax(q @ k.transpose(1, 2), dim=-1) @ v\n")),
    )),
    "ex-text-accuracy": Exercise("transcription", reference="diffusion_lite.shapes.prompt_accuracy",
                                 mistakes=(
        Mistake("averaged over attributes", _accuracy(
            "    return (described == asked).float().mean().item()\n")),
        Mistake("not any of them", _accuracy(
            "    return (described == asked).any(dim=1).float().mean().item()\n")),
        Mistake("return the share", _accuracy(
            "    return (described == asked).all(dim=1).sum().item()\n")),
        Mistake("not a percentage", _accuracy(
            "    return 100 * (described == asked).all(dim=1).float().mean().item()\n")),
        Mistake("share of rows with a mistake", _accuracy(
            "    return (described != asked).any(dim=1).float().mean().item()\n")),
        Mistake("with .item\\(\\)", _accuracy(
            "    return (described == asked).all(dim=1).float().mean()\n")),
        Mistake("wrong axis: .all\\(dim=0\\)", _accuracy(
            "    return (described == asked).all(dim=0).float().mean().item()\n")),
        Mistake("one number per attribute", _accuracy(
            "    return (described == asked).float().mean(dim=0)\n")),
    )),
    "ex-text-bugs": Exercise("bug hunt", mistakes=(
        Mistake("suspect A .*sharper", _diagnosis("c", "a", "b")),
        Mistake("suspect A .*rows .*sum to 1", _diagnosis("a", "b", "c")),
        Mistake("suspect B .*rows .*sum to 1", _diagnosis("b", "c", "a")),
        Mistake("suspect C .*flatter", _diagnosis("b", "a", "b")),
        Mistake("suspect C .*weights times v", _diagnosis("b", "a", "d")),
        Mistake("expected a dict", 'my_diagnosis = {"A": "b", "B": "a"}\n'),
        Mistake("expected one of", _diagnosis("b", "a", "the scale")),
    )),
    "ex-text-held-out": Exercise("written"),
}
