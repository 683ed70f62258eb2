"""Checkers for chapter 1, the forward process."""

from __future__ import annotations

import torch

from ..schedules import NoiseSchedule, extract
from ._common import Exercise, ExerciseError, Mistake, _diagnose, _passed, checker


@checker
def check_add_noise(fn, cases: int = 5) -> None:
    """Chapter 1. ``fn(schedule, x0, t, noise)`` must return x_t = sqrt(alpha_bar_t) x0 +
    sqrt(1 - alpha_bar_t) noise, the sample of q(x_t | x_0) built from the given noise, for x0
    and noise of shape (B, D) and a (B,) LongTensor ``t`` of steps in 0 ... T."""
    g = torch.Generator().manual_seed(1)
    schedule = NoiseSchedule.linear(1000)
    for _ in range(cases):
        x0, noise = torch.randn(8, 2, generator=g), torch.randn(8, 2, generator=g)
        t = torch.randint(0, 1001, (8,), generator=g)
        t[:3] = torch.tensor([0, 1, 1000])            # the clean end, the first and the last step
        alpha_bar, alpha, alpha_bar_prev = (extract(v, t, x0) for v in
                                            (schedule.alpha_bars, schedule.alphas,
                                             schedule.alpha_bars.roll(1)))   # [t - 1], as t - 1 indexes
        copies = (x0.clone(), t.clone(), noise.clone())
        try:
            answer = fn(schedule, *copies)
        except Exception as error:   # the student's error, turned into a hint
            raise ExerciseError(
                f"check_add_noise: your function raised {type(error).__name__}: {error}. "
                "schedule.alpha_bars[t] has shape (B,): reshape it to (B, 1), e.g. "
                "alpha_bar[:, None], to broadcast against x0 of shape (B, D). Its index is t "
                "itself, 0 ... T (index 0 is the clean end).") from error
        if not all(torch.equal(a, b) for a, b in zip(copies, (x0, t, noise))):
            raise ExerciseError("check_add_noise: your function changed its input in place; "
                                "compute a new tensor instead (no +=, no assignment into x0).")
        _diagnose("check_add_noise", answer, alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise, {
            "You used alpha_bar where its square root belongs: the mean is sqrt(alpha_bar_t) x0.":
                alpha_bar * x0 + (1 - alpha_bar) * noise,
            "The noise scale is sqrt(1 - alpha_bar_t), not sqrt(alpha_bar_t)... check which term "
            "gets which coefficient.": (1 - alpha_bar).sqrt() * x0 + alpha_bar.sqrt() * noise,
            "The noise term needs sqrt(1 - alpha_bar_t); (1 - alpha_bar_t) alone is the variance.":
                alpha_bar.sqrt() * x0 + (1 - alpha_bar) * noise,
            "Off by one: schedule.alpha_bars[t] is alpha_bar_t itself (index 0 is the clean end, "
            "alpha_bar_0 = 1); you used alpha_bar_{t-1}, schedule.alpha_bars[t - 1].":
                alpha_bar_prev.sqrt() * x0 + (1 - alpha_bar_prev).sqrt() * noise,
            "You used alpha_t = 1 - beta_t, one step from x_{t-1}; the jump from x_0 needs the "
            "product alpha_bar_t = alpha_1 ... alpha_t, schedule.alpha_bars[t].":
                alpha.sqrt() * x0 + (1 - alpha).sqrt() * noise,
            "x0 must shrink by sqrt(alpha_bar_t) as the noise grows: otherwise the variance "
            "grows past 1 and x_T is not N(0, I).": x0 + (1 - alpha_bar).sqrt() * noise,
            "The noise must be scaled by sqrt(1 - alpha_bar_t): at small t only a little noise "
            "has been added.": alpha_bar.sqrt() * x0 + noise,
        })
    return _passed("check_add_noise", cases)


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
def _add_noise(body: str) -> str:
    return "def my_add_noise(schedule, x0, t, noise):\n" + body


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
        Mistake("changed its input in place", _add_noise(
            "    a = schedule.alpha_bars[t][:, None]\n    noise *= (1 - a).sqrt()\n"
            "    return a.sqrt() * x0 + noise\n")),
        Mistake("expected a torch.Tensor", _add_noise(
            "    a = schedule.alpha_bars[t][:, None]\n"
            "    return (a.sqrt() * x0 + (1 - a).sqrt() * noise).tolist()\n")),
    )),
    "ex-forward-two-steps": Exercise("written"),
    "ex-forward-snr-half": Exercise("written"),
}
