"""Checkers for chapter 1, the forward process."""

from __future__ import annotations

import torch

from ..schedules import NoiseSchedule, add_noise, extract
from ._common import (
    NOT_IMPLEMENTED,
    Exercise,
    ExerciseError,
    Mistake,
    _answer_of,
    _diagnose,
    _passed,
    checker,
)


def _uses(fn, names: tuple[str, ...]) -> str | None:
    """The first of ``names`` that the student's function calls (as a name or an attribute)."""
    code = getattr(fn, "__code__", None)
    return next((n for n in names if code is not None and n in code.co_names), None)


@checker(forbid=("add_noise",))
def check_add_noise(fn, cases: int = 5) -> None:
    """Chapter 1. ``fn(schedule, x0, t, noise)`` must return x_t = sqrt(alpha_bar_t) x0 +
    sqrt(1 - alpha_bar_t) noise, the sample of q(x_t | x_0) built from the given noise, for x0
    and noise of shape (B, D) and a (B,) LongTensor ``t`` of steps in 0 ... T."""
    name = "check_add_noise"
    if _uses(fn, ("add_noise",)):
        raise ExerciseError(f"{name}: your function calls the package's add_noise; write the "
                            "formula yourself from schedule.alpha_bars.")
    g = torch.Generator().manual_seed(1)
    schedule = NoiseSchedule.linear(1000)
    for _ in range(cases):
        x0, noise = torch.randn(8, 2, generator=g), torch.randn(8, 2, generator=g)
        t = torch.randint(0, 1001, (8,), generator=g)
        t[:3] = torch.tensor([0, 1, 1000])            # the clean end, the first and the last step
        alpha_bar, alpha, alpha_bar_prev, alpha_bar_clamped, beta = (
            extract(v, t_, x0) for v, t_ in ((schedule.alpha_bars, t), (schedule.alphas, t),
                                              (schedule.alpha_bars.roll(1), t),   # [t - 1], as t - 1 indexes
                                              (schedule.alpha_bars, t.clamp(min=1)),
                                              (schedule.betas, t)))
        answers = []
        for _attempt in range(2):                     # twice: an answer that draws noise varies
            copies = {"x0": x0.clone(), "t": t.clone(), "noise": noise.clone()}
            try:
                answers.append(fn(schedule, copies["x0"], copies["t"], copies["noise"]))
            except IndexError as error:   # the student's error, turned into a hint
                raise ExerciseError(
                    f"{name}: your function raised IndexError: {error}. schedule.alpha_bars has "
                    "T + 1 entries, indices 0 ... T, and its index is t itself: "
                    "schedule.alpha_bars[t + 1] runs past the end at t = T.") from error
            except Exception as error:   # the student's error, turned into a hint
                raise ExerciseError(
                    f"{name}: your function raised {type(error).__name__}: {error}. "
                    "schedule.alpha_bars[t] has shape (B,): reshape it to (B, 1), e.g. "
                    "alpha_bar[:, None], to broadcast against x0 of shape (B, D). Its index is t "
                    "itself, 0 ... T (index 0 is the clean end).") from error
            changed = [k for k, v in (("x0", x0), ("t", t), ("noise", noise))
                       if not torch.equal(copies[k], v)]
            if changed:
                raise ExerciseError(f"{name}: your function changed its input {changed[0]} in "
                                    "place; compute a new tensor instead (no +=, *=, or "
                                    f"assignment into {changed[0]}).")
        answer = answers[0]
        if (isinstance(answer, torch.Tensor) and isinstance(answers[1], torch.Tensor)
                and answer.shape == answers[1].shape
                and not torch.allclose(answer, answers[1], rtol=0, atol=0, equal_nan=True)):
            raise ExerciseError(f"{name}: not yet. Your function returns a different x_t each "
                                "time it is called with the same inputs: it draws noise of its "
                                "own. Use the `noise` argument, so that the caller knows the "
                                "noise (the loss compares the model's estimate with it).")
        _diagnose(name, answer, alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise, {
            "You used alpha_bar where its square root belongs: the mean is sqrt(alpha_bar_t) x0.":
                alpha_bar * x0 + (1 - alpha_bar) * noise,
            "The noise scale is sqrt(1 - alpha_bar_t), not sqrt(alpha_bar_t)... check which term "
            "gets which coefficient.": (1 - alpha_bar).sqrt() * x0 + alpha_bar.sqrt() * noise,
            "The noise term needs sqrt(1 - alpha_bar_t); (1 - alpha_bar_t) alone is the variance.":
                alpha_bar.sqrt() * x0 + (1 - alpha_bar) * noise,
            "The signal term needs sqrt(alpha_bar_t); alpha_bar_t alone scales x0 too much (you "
            "dropped the square root on the signal only).":
                alpha_bar * x0 + (1 - alpha_bar).sqrt() * noise,
            "Off by one: schedule.alpha_bars[t] is alpha_bar_t itself (index 0 is the clean end, "
            "alpha_bar_0 = 1); you used alpha_bar_{t-1}, schedule.alpha_bars[t - 1].":
                alpha_bar_prev.sqrt() * x0 + (1 - alpha_bar_prev).sqrt() * noise,
            "At t = 0 nothing has been added: x_0 is returned unchanged (alpha_bar_0 = 1, "
            "schedule.alpha_bars[0]); you clamped t = 0 to step 1.":
                alpha_bar_clamped.sqrt() * x0 + (1 - alpha_bar_clamped).sqrt() * noise,
            "You used alpha_t = 1 - beta_t, one step from x_{t-1}; the jump from x_0 needs the "
            "product alpha_bar_t = alpha_1 ... alpha_t, schedule.alpha_bars[t].":
                alpha.sqrt() * x0 + (1 - alpha).sqrt() * noise,
            "The noise variance after t steps is 1 - alpha_bar_t, not beta_t: beta_t is the "
            "variance one step adds.": alpha_bar.sqrt() * x0 + beta.sqrt() * noise,
            "x0 must shrink by sqrt(alpha_bar_t) as the noise grows: otherwise the variance "
            "grows past 1 and x_T is not N(0, I).": x0 + (1 - alpha_bar).sqrt() * noise,
            "The noise must be scaled by sqrt(1 - alpha_bar_t): at small t only a little noise "
            "has been added.": alpha_bar.sqrt() * x0 + noise,
        })
    return _passed(name, cases)


def _first_below(curve: torch.Tensor, level: float) -> int:
    """The first index (the step t itself) at which ``curve`` falls below ``level``."""
    below = (curve < level).nonzero()
    return int(below[0]) if len(below) else -1


def _correlation(schedule: NoiseSchedule, data_std: float) -> torch.Tensor:
    """corr(x_t, x_0) of one coordinate, t = 0 ... T, for data of standard deviation data_std."""
    alpha_bar, one_minus = schedule.alpha_bars.double(), schedule.one_minus_alpha_bars.double()
    return alpha_bar.sqrt() * data_std / (alpha_bar * data_std**2 + one_minus).sqrt()


def _measured_crossing(schedule: NoiseSchedule, data_std: float, level: float, seed: int,
                       n: int = 100_000) -> int:
    """Run the forward process with add_noise on n points of data with standard deviation
    data_std (signs of a coin, not Gaussian) and return the first step t at which the sample
    correlation of x_t with x_0 falls below level: a bisection over t, since it falls with t.
    Each case has its own ``seed``, so that the cases are independent measurements."""
    g = torch.Generator().manual_seed(seed)
    x0 = data_std * (torch.randint(0, 2, (n, 1), generator=g).float() * 2 - 1)     # (n, 1)
    noise = torch.randn(n, 1, generator=g)

    def corr(t: int) -> float:
        x_t = add_noise(schedule, x0, torch.full((n,), t), noise)
        return torch.corrcoef(torch.cat([x_t, x0], 1).T)[0, 1].item()

    lo, hi = 0, schedule.num_steps              # corr(lo) >= level > corr(hi)
    if corr(hi) >= level:
        return -1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if corr(mid) >= level else (lo, mid)
    return hi


@checker
def check_forgetting_step(fn, cases: int = 6) -> None:
    """Chapter 1. ``fn(schedule, data_std, level)`` must predict, from the schedule alone, the
    first step t at which the correlation between one coordinate of x_t and of x_0 falls below
    ``level``, for data of standard deviation ``data_std``, as a Python int. The checker runs
    the forward process on 100,000 points, measures the step, and prints both."""
    settings = [("linear", 1.0, 0.5), ("cosine", 1.0, 0.5), ("cosine", 0.5, 0.5),
                ("sigmoid", 2.0, 0.3), ("linear", 0.5, 0.1), ("linear", 1.0, 0.9)][:cases]
    schedules = {name: getattr(NoiseSchedule, name)(1000) for name in ("linear", "cosine", "sigmoid")}
    answers, references, labels, wrong = [], [], [], {}
    for name, data_std, level in settings:
        schedule, label = schedules[name], f"{name}, data_std={data_std}, level={level}"
        answer = _answer_of("check_forgetting_step", fn, (schedule, data_std, level),
                            "Compute the correlation for every step t = 0 ... T at once from "
                            "schedule.alpha_bars (a tensor of T + 1 values, index t).")
        if isinstance(answer, torch.Tensor) or not isinstance(answer, int) or isinstance(answer, bool):
            raise ExerciseError(f"check_forgetting_step ({label}): expected a Python int, the step t, "
                                f"got {type(answer).__name__} {answer!r:.40}. A 0-d tensor is not an "
                                "int: convert with int(...).")
        corr, alpha_bar = _correlation(schedule, data_std), schedule.alpha_bars.double()
        snr = alpha_bar / schedule.one_minus_alpha_bars.double()
        reference = _first_below(corr, level)
        candidates = {
            "You assumed data of unit variance: corr(x_t, x_0) = sqrt(alpha_bar_t) only when "
            "data_std = 1. With Var(x_0) = data_std², Cov(x_t, x_0) = sqrt(alpha_bar_t) data_std² "
            "and Var(x_t) = alpha_bar_t data_std² + 1 - alpha_bar_t.":
                _first_below(alpha_bar.sqrt(), level),
            "That is where the squared correlation (the share of x_t's variance that comes "
            "from x_0) falls below level; the correlation is its square root.":
                _first_below(corr**2, level),
            "That is where the signal-to-noise ratio alpha_bar_t / (1 - alpha_bar_t) falls below "
            "level, not the correlation.": _first_below(snr, level),
            "Off by one: you returned the last step still at or above level, or the index into "
            "an array that starts at t = 1 (index 0 of schedule.alpha_bars is t = 0).": reference - 1,
            "You divided by the standard deviation of x_t only; the correlation divides the "
            "covariance by both standard deviations, sd(x_t) and sd(x_0) = data_std.":
                _first_below(corr * data_std, level),
        }
        for hint, value in candidates.items():
            wrong.setdefault(hint, []).append(value)
        answers.append(answer)
        references.append(reference)
        labels.append(label)
    if answers != references:
        for hint, values in wrong.items():
            if values == answers:
                raise ExerciseError(f"check_forgetting_step: not yet. {hint}")
        i = next(i for i, (a, r) in enumerate(zip(answers, references)) if a != r)
        raise ExerciseError(f"check_forgetting_step ({labels[i]}): you predicted t = {answers[i]}, "
                            f"but the correlation first falls below the level at t = {references[i]}. "
                            "Write Cov(x_t, x_0) and Var(x_t) from the closed form, for one "
                            "coordinate, and divide.")
    for case, ((name, data_std, level), label, answer) in enumerate(zip(settings, labels, answers)):
        measured = _measured_crossing(schedules[name], data_std, level, seed=11 + case)
        # the sample correlation of n points has a standard error of about (1 - rho²) / sqrt(n);
        # divided by how fast rho falls per step near the crossing, that is an error in steps
        corr = _correlation(schedules[name], data_std)
        slope = max((corr[answer - 1] - corr[answer]).abs().item(), 1e-12)
        spread = max(1, round(2 * (1 - level**2) / 100_000**0.5 / slope))
        verdict = ("the same step" if measured == answer else
                   f"agrees within the sampling error (about ±{spread} steps)"
                   if abs(measured - answer) <= spread else
                   f"more than the sampling error (about ±{spread} steps) away")
        print(f"{label}: you predicted t = {answer}; measured on 100,000 points: t = {measured}, "
              f"{verdict}")
    _passed("check_forgetting_step", len(settings))


_LEVEL, _SCHEDULES = 0.05, ("linear", "cosine")


def check_signal_below(answer) -> None:
    """Chapter 1. ``answer`` must map "linear" and "cosine" (T = 1000, the chapter's
    constants) to the first step t at which sqrt(alpha_bar_t) falls below 0.05, as ints."""
    __tracebackhide__ = True        # noqa: F841 (read by IPython and pytest)
    name = "check_signal_below"
    if answer is None or answer is Ellipsis:
        raise ExerciseError(f"{name}: {NOT_IMPLEMENTED}") from None
    if not isinstance(answer, dict) or sorted(answer) != sorted(_SCHEDULES):
        raise ExerciseError(f"{name}: expected a dict with the keys 'linear' and 'cosine', got "
                            f"{answer!r:.80}") from None
    schedules = {"linear": NoiseSchedule.linear(1000, beta_start=1e-4, beta_end=0.02),
                 "cosine": NoiseSchedule.cosine(1000, s=0.008, max_beta=0.999)}
    reference = {k: _first_below(s.alpha_bars.sqrt(), _LEVEL) for k, s in schedules.items()}
    for key, value in answer.items():
        if isinstance(value, torch.Tensor) or not isinstance(value, int) or isinstance(value, bool):
            raise ExerciseError(f"{name}: expected a Python int for {key!r}, got "
                                f"{type(value).__name__} {value!r:.40}; a 0-d tensor is not an "
                                "int: convert with int(...).") from None
    if answer == reference:
        print(f"✅ {name}: correct: linear t = {reference['linear']}, cosine t = "
              f"{reference['cosine']}.")
        return
    mistakes = {
        "You found where alpha_bar_t falls below 0.05; the signal's standard deviation is "
        "sqrt(alpha_bar_t), which falls below 0.05 where alpha_bar_t falls below 0.0025.":
            {k: _first_below(s.alpha_bars, _LEVEL) for k, s in schedules.items()},
        "Those are the steps where SNR(t) < 1, from the table; the question is about "
        "sqrt(alpha_bar_t) < 0.05.": {k: _first_below(s.snr(), 1.0) for k, s in schedules.items()},
        "Those are the steps where alpha_bar_t < 0.01, the table's threshold (sqrt(alpha_bar_t) "
        "< 0.1); the question asks for sqrt(alpha_bar_t) < 0.05, that is alpha_bar_t < 0.0025.":
            {k: _first_below(s.alpha_bars, 0.01) for k, s in schedules.items()},
        "You swapped the two schedules: the cosine schedule keeps its signal longer.":
            {"linear": reference["cosine"], "cosine": reference["linear"]},
        "Off by one: the index of schedule.alpha_bars is t itself, so the first index where "
        "the condition holds is the step; you returned the last step before it (or indexed "
        "alpha_bars[1:]).": {k: v - 1 for k, v in reference.items()},
    }
    for hint, values in mistakes.items():
        if answer == values:
            raise ExerciseError(f"{name}: not yet. {hint}") from None
    key = next(k for k in _SCHEDULES if answer[k] != reference[k])
    direction = "early" if answer[key] < reference[key] else "late"
    raise ExerciseError(f"{name}: not yet: your step for the {key} schedule is too {direction}. "
                        "Look for the first index of schedule.alpha_bars (the step t itself) where "
                        "the signal's standard deviation is below 0.05.") from None


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
def _add_noise(body: str) -> str:
    return "def my_add_noise(schedule, x0, t, noise):\n" + body


def _below(condition: str, shift: str = "", cast: str = "int") -> str:
    return ("signal_below = {}\n"
            "for name, s in [('linear', NoiseSchedule.linear(1000)), ('cosine', NoiseSchedule.cosine(1000))]:\n"
            f"    signal_below[name] = {cast}(({condition}).nonzero()[0]{shift})\n")


def _forgetting(corr: str, shift: str = "", cast: str = "int") -> str:
    return ("def my_forgetting_step(schedule, data_std, level):\n"
            "    alpha_bar = schedule.alpha_bars\n"
            f"    corr = {corr}\n"
            f"    return {cast}((corr < level).nonzero()[0]{shift})\n")


EXERCISES: dict[str, Exercise] = {
    "ex-forward-add-noise": Exercise("transcription", reference="diffusion_lite.schedules.add_noise",
                                     mistakes=(
        Mistake("square root belongs", _add_noise(
            "    a = schedule.alpha_bars[t][:, None]\n    return a * x0 + (1 - a) * noise\n")),
        Mistake("is the variance", _add_noise(
            "    a = schedule.alpha_bars[t][:, None]\n    return a.sqrt() * x0 + (1 - a) * noise\n")),
        Mistake("which term", _add_noise(
            "    a = schedule.alpha_bars[t][:, None]\n"
            "    return (1 - a).sqrt() * x0 + a.sqrt() * noise\n")),
        Mistake("Off by one", _add_noise(
            "    a = schedule.alpha_bars[t - 1][:, None]\n"
            "    return a.sqrt() * x0 + (1 - a).sqrt() * noise\n")),
        Mistake("alpha_t = 1 - beta_t", _add_noise(
            "    a = schedule.alphas[t][:, None]\n    return a.sqrt() * x0 + (1 - a).sqrt() * noise\n")),
        Mistake("must shrink", _add_noise(
            "    a = schedule.alpha_bars[t][:, None]\n    return x0 + (1 - a).sqrt() * noise\n")),
        Mistake("noise must be scaled", _add_noise(
            "    a = schedule.alpha_bars[t][:, None]\n    return a.sqrt() * x0 + noise\n")),
        Mistake("reshape it to \\(B, 1\\)", _add_noise(
            "    a = schedule.alpha_bars[t]\n    return a.sqrt() * x0 + (1 - a).sqrt() * noise\n")),
        Mistake("changed its input noise in place", _add_noise(
            "    a = schedule.alpha_bars[t][:, None]\n    noise *= (1 - a).sqrt()\n"
            "    return a.sqrt() * x0 + noise\n")),
        Mistake("changed its input x0 in place", _add_noise(
            "    a = schedule.alpha_bars[t][:, None]\n    x0 *= a.sqrt()\n"
            "    return x0 + (1 - a).sqrt() * noise\n")),
        Mistake("t \\+ 1\\] runs past the end", _add_noise(
            "    a = schedule.alpha_bars[t + 1][:, None]\n"
            "    return a.sqrt() * x0 + (1 - a).sqrt() * noise\n")),
        Mistake("clamped t = 0", _add_noise(
            "    a = schedule.alpha_bars[t.clamp(min=1)][:, None]\n"
            "    return a.sqrt() * x0 + (1 - a).sqrt() * noise\n")),
        Mistake("not beta_t", _add_noise(
            "    a, b = schedule.alpha_bars[t][:, None], schedule.betas[t][:, None]\n"
            "    return a.sqrt() * x0 + b.sqrt() * noise\n")),
        Mistake("square root on the signal only", _add_noise(
            "    a = schedule.alpha_bars[t][:, None]\n    return a * x0 + (1 - a).sqrt() * noise\n")),
        Mistake("draws noise of its own", _add_noise(
            "    a = schedule.alpha_bars[t][:, None]\n"
            "    return a.sqrt() * x0 + (1 - a).sqrt() * torch.randn_like(x0)\n")),
        Mistake("calls the package's add_noise", _add_noise(
            "    return dl.schedules.add_noise(schedule, x0, t, noise)\n")),
        Mistake("expected a torch.Tensor", _add_noise(
            "    a = schedule.alpha_bars[t][:, None]\n"
            "    return (a.sqrt() * x0 + (1 - a).sqrt() * noise).tolist()\n")),
    )),
    "ex-forward-two-steps": Exercise("written"),
    "ex-forward-snr-half": Exercise("written-checkable", setup=(
        "schedule = NoiseSchedule.linear(1000, beta_start=1e-4, beta_end=0.02)\n"
        "cosine = NoiseSchedule.cosine(1000, s=0.008, max_beta=0.999)\n"), mistakes=(
        Mistake("where alpha_bar_t falls below 0.05", _below("s.alpha_bars < 0.05")),
        Mistake("SNR\\(t\\) < 1", _below("s.snr() < 1")),
        Mistake("the table's threshold", _below("s.alpha_bars < 0.01")),
        Mistake("the table's threshold", _below("s.alpha_bars.sqrt() < 0.1")),
        Mistake("Off by one", _below("s.alpha_bars.sqrt() < 0.05", shift=" - 1")),
        Mistake("swapped", "signal_below = {'linear': 968, 'cosine': 770}\n"),
        Mistake("0-d tensor is not an int", _below("s.alpha_bars.sqrt() < 0.05", cast="")),
    )),
    "ex-forward-forgetting": Exercise("prediction", mistakes=(
        Mistake("assumed data of unit variance", _forgetting("alpha_bar.sqrt()")),
        Mistake("squared correlation", _forgetting(
            "alpha_bar * data_std**2 / (alpha_bar * data_std**2 + 1 - alpha_bar)")),
        Mistake("signal-to-noise ratio", _forgetting("alpha_bar / (1 - alpha_bar)")),
        Mistake("Off by one", _forgetting(
            "alpha_bar.sqrt() * data_std / (alpha_bar * data_std**2 + 1 - alpha_bar).sqrt()",
            shift=" - 1")),
        Mistake("both standard deviations", _forgetting(
            "alpha_bar.sqrt() * data_std**2 / (alpha_bar * data_std**2 + 1 - alpha_bar).sqrt()")),
        Mistake("0-d tensor is not an int", _forgetting(
            "alpha_bar.sqrt() * data_std / (alpha_bar * data_std**2 + 1 - alpha_bar).sqrt()", cast="")),
    )),
}
