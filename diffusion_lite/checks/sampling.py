"""Checkers for the sampling steps: DDPM (chapter 3), DDIM and slerp (chapter 6)."""

from __future__ import annotations

import torch

from ..schedules import NoiseSchedule, predict_x0
from ._common import (
    Exercise,
    ExerciseError,
    _answer_of,
    _call_student,
    _diagnose,
    _name_the_mistake,
    _passed,
    checker,
)


@checker
def check_ddpm_step(fn, cases: int = 5) -> None:
    """Chapter 3. ``fn(schedule, eps, x_t, t, z)`` must return x_{t-1} by Algorithm 2 of
    Ho et al. (2020) with sigma_t = sqrt(beta_t), using the given standard noise ``z``;
    ``t`` is a Python int in 1 ... T, the same for the whole batch. The small steps come first:
    there beta_t and beta_tilde_t differ most, and the step from t = 1 adds no noise."""
    g = torch.Generator().manual_seed(3)
    schedule, pristine = NoiseSchedule.linear(1000), NoiseSchedule.linear(1000)
    labels, answers, references, mistakes = [], [], [], {}
    for t in [2, 1, 10, 500, 1000][:cases]:
        name = f"check_ddpm_step (t={t})"
        x_t, eps, z = (torch.randn(8, 2, generator=g) for _ in range(3))
        answer = _answer_of(name, fn, (schedule, eps, x_t, t, z),
                            "schedule.alphas, .alpha_bars and .betas have T + 1 entries indexed "
                            "by the step itself (index 0 is the clean end, t = 1 ... T): read "
                            "index t, neither t + 1 nor t - 1.")
        if not all(torch.equal(getattr(schedule, f), getattr(pristine, f))
                   for f in ("betas", "alphas", "alpha_bars", "one_minus_alpha_bars")):
            raise ExerciseError(f"{name}: your function changed the schedule's arrays in place; "
                                "read them, never assign into them.")
        # 1. the reference: eq. 11's mean, plus sigma_t z except at the last step (t = 1)
        alpha, alpha_bar, beta = schedule.alphas[t], schedule.alpha_bars[t], schedule.betas[t]
        alpha_p, alpha_bar_p, beta_p = (schedule.alphas[t - 1], schedule.alpha_bars[t - 1],
                                        schedule.betas[t - 1])          # index t - 1: mistakes
        beta_tilde = (1 - alpha_bar_p) / (1 - alpha_bar) * beta
        coef = beta / (1 - alpha_bar).sqrt()
        mean = (x_t - coef * eps) / alpha.sqrt()
        last = t == 1
        noise = 0 * z if last else beta.sqrt() * z
        # 2. the usual mistakes, each as it would come out at this t
        wrong = {
            "No noise is added at the last step, t = 1, which returns x_0: add sigma_t z only "
            "if t > 1 (the papers' numbering: the last step is t = 1, not t = 0).":
                mean + beta.sqrt() * z,
            "Only the step from t = 1 is noise-free: the step from t = 2 returns x_1, which "
            "still gets sigma_2 z. Add the noise if t > 1.":
                mean if t <= 2 else mean + noise,
            "Add the noise sigma_t z, with sigma_t = sqrt(beta_t), at every step but the last: "
            "without it every sample follows the mean.": mean,
            "You used beta_tilde_t, the posterior variance of chapter 2, where beta_t belongs: "
            "this exercise asks for sigma_t^2 = beta_t. (Both are choices Ho et al. tried; they "
            "differ most at small t.)": mean + (0 * z if last else beta_tilde.sqrt() * z),
            "sigma_t is the standard deviation sqrt(beta_t), not the variance beta_t.":
                mean + (0 * z if last else beta * z),
            "The noise estimate is scaled by beta_t / sqrt(1 - alpha_bar_t), not by beta_t alone.":
                (x_t - beta * eps) / alpha.sqrt() + noise,
            "Take the square root of 1 - alpha_bar_t: the noise estimate is scaled by "
            "beta_t / sqrt(1 - alpha_bar_t).":
                (x_t - beta / (1 - alpha_bar) * eps) / alpha.sqrt() + noise,
            "Subtract the scaled noise estimate from x_t; you added it.":
                (x_t + coef * eps) / alpha.sqrt() + noise,
            "Divide by sqrt(alpha_t) (one step), not by sqrt(alpha_bar_t).":
                (x_t - coef * eps) / alpha_bar.sqrt() + noise,
            "Divide the whole bracket by sqrt(alpha_t): the mean is "
            "(x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t).": x_t - coef * eps + noise,
            "That is the predicted x0 itself: one step only removes a little of the noise.":
                predict_x0(schedule, x_t, torch.full((8,), t), eps),
            "Off by one: schedule.alphas[t], .alpha_bars[t] and .betas[t] are alpha_t, "
            "alpha_bar_t and beta_t (index 0 is the clean end, t = 1 ... T); you read index t - 1.":
                (x_t - beta_p / (1 - alpha_bar_p).sqrt() * eps) / alpha_p.sqrt()
                + (0 * z if last else beta_p.sqrt() * z),
            "Off by one: schedule.alpha_bars[t] is alpha_bar_t (index 0 is the clean end, "
            "alpha_bar_0 = 1); you used alpha_bar_{t-1}, schedule.alpha_bars[t - 1].":
                (x_t - beta / (1 - alpha_bar_p).sqrt() * eps) / alpha.sqrt() + noise,
        }
        labels.append(f"t={t}")
        answers.append(answer)
        references.append(mean + noise)
        for hint, value in wrong.items():
            mistakes.setdefault(hint, []).append(value)
    _name_the_mistake("check_ddpm_step", labels, answers, references, mistakes, atol=1e-5)
    _passed("check_ddpm_step", len(labels))


@checker
def check_ddim_step(fn, cases: int = 5) -> None:
    """Chapter 6. ``fn(x_t, eps, alpha_bar_t, alpha_bar_prev)`` must return the deterministic
    DDIM step (eta = 0): sqrt(ab_prev) · x0_hat + sqrt(1 - ab_prev) · eps, where
    x0_hat = (x_t - sqrt(1 - ab_t) · eps) / sqrt(ab_t)."""
    g = torch.Generator().manual_seed(7)
    for case in range(cases):
        x_t, eps = torch.randn(4, 1, 3, 3, generator=g), torch.randn(4, 1, 3, 3, generator=g)
        alpha_bar_t = torch.rand(4, 1, 1, 1, generator=g) * 0.5 + 0.05
        alpha_bar_prev = alpha_bar_t + (1 - alpha_bar_t) * torch.rand(4, 1, 1, 1, generator=g) * 0.9
        x0_hat = (x_t - (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t.sqrt()
        answer = _call_student("check_ddim_step", fn, x_t, eps, alpha_bar_t, alpha_bar_prev)
        _diagnose(f"check_ddim_step (case {case})", answer,
                  alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_prev).sqrt() * eps, {
            "Add back the noise direction sqrt(1 - alpha_bar_prev) · eps; without it you jump "
            "straight to a scaled x0_hat.": alpha_bar_prev.sqrt() * x0_hat,
            "x0_hat divides by sqrt(alpha_bar_t), the square root, not alpha_bar_t.":
                alpha_bar_prev.sqrt() * (x_t - (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t
                + (1 - alpha_bar_prev).sqrt() * eps,
            "The noise is scaled by the standard deviation sqrt(1 - alpha_bar), not the variance.":
                alpha_bar_prev.sqrt() * (x_t - (1 - alpha_bar_t) * eps) / alpha_bar_t.sqrt()
                + (1 - alpha_bar_prev) * eps,
            "Use alpha_bar_t to form x0_hat and alpha_bar_prev for the new state: you swapped them.":
                alpha_bar_t.sqrt() * (x_t - (1 - alpha_bar_prev).sqrt() * eps) / alpha_bar_prev.sqrt()
                + (1 - alpha_bar_t).sqrt() * eps,
            "You returned x0_hat itself, a jump to the clean end; the step lands at alpha_bar_prev: "
            "sqrt(alpha_bar_prev) · x0_hat + sqrt(1 - alpha_bar_prev) · eps.": x0_hat,
            "The noise direction belongs to the level you move to, sqrt(1 - alpha_bar_prev), "
            "not the one you leave, sqrt(1 - alpha_bar_t).":
                alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_t).sqrt() * eps,
            "x0_hat subtracts the noise term, x_t - sqrt(1 - alpha_bar_t) · eps; you added it.":
                alpha_bar_prev.sqrt() * (x_t + (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t.sqrt()
                + (1 - alpha_bar_prev).sqrt() * eps,
            "Scale x0_hat by sqrt(alpha_bar_prev), not x_t: first predict x0_hat from x_t and eps.":
                alpha_bar_prev.sqrt() * x_t + (1 - alpha_bar_prev).sqrt() * eps,
        }, atol=1e-4)
    _passed("check_ddim_step", cases)


def _slerp_unnormalised(a, b, alpha):
    theta = torch.arccos(((a.flatten() @ b.flatten()) / a.numel()).clamp(-1, 1))
    return (torch.sin(torch.tensor(1 - alpha) * theta) * a
            + torch.sin(torch.tensor(alpha) * theta) * b) / torch.sin(theta)


@checker
def check_slerp(fn, cases: int = 4) -> None:
    """Chapter 6. ``fn(a, b, alpha)`` must return the spherical interpolation
    sin((1-alpha)·theta)/sin(theta) · a + sin(alpha·theta)/sin(theta) · b, theta the angle
    between the flattened a and b."""
    g = torch.Generator().manual_seed(8)
    for alpha in [0.3, 0.5, 0.0, 1.0][:cases]:
        a, b = torch.randn(1, 4, 4, generator=g), torch.randn(1, 4, 4, generator=g)
        theta = torch.arccos((a.flatten() @ b.flatten()) / (a.norm() * b.norm()))
        answer = _call_student("check_slerp", fn, a, b, alpha)
        if isinstance(answer, torch.Tensor) and not torch.isfinite(answer).all():
            raise ExerciseError(
                f"check_slerp (alpha={alpha}): your answer contains NaN or inf. arccos is only "
                "defined on [-1, 1], and a · b of two noise tensors is far outside it: divide the "
                "dot product by both norms, a · b / (|a| |b|), before arccos (and clamp it to "
                "[-1, 1] against rounding). A theta of 0 makes sin(theta) = 0 as well.")
        if isinstance(answer, torch.Tensor) and answer.norm() > 100 * (a.norm() + b.norm()):
            raise ExerciseError(
                f"check_slerp (alpha={alpha}): your answer is enormous, so sin(theta) is nearly 0: "
                "theta came out 0 or pi. That happens when the dot product a · b, not divided by "
                "both norms, is clamped to [-1, 1]: use a · b / (|a| |b|).")
        sin_a, sin_b = torch.sin(torch.tensor(1 - alpha) * theta), torch.sin(torch.tensor(alpha) * theta)
        reference = (sin_a * a + sin_b * b) / torch.sin(theta)
        mistakes = {   # checked only when the answer is wrong
            "That is a straight line, (1 - alpha)·a + alpha·b; slerp follows the arc.":
                (1 - alpha) * a + alpha * b,
            "The weight of a uses (1 - alpha); of b, alpha: you swapped them.":
                (sin_b * a + sin_a * b) / torch.sin(theta),
            "theta is the angle between a and b: divide the dot product by both norms before "
            "arccos.": _slerp_unnormalised(a, b, alpha),
            "Divide both weights by sin(theta): without it the norm shrinks along the arc.":
                sin_a * a + sin_b * b,
            "theta is arccos of the cosine; you used the cosine itself as the angle.":
                (torch.sin((1 - alpha) * torch.cos(theta)) * a
                 + torch.sin(alpha * torch.cos(theta)) * b) / torch.sin(torch.cos(theta)),
            "Interpolate a and b themselves, not a / |a| and b / |b|: the result must keep the "
            "noise's norm, not lie on the unit sphere.":
                (sin_a * a / a.norm() + sin_b * b / b.norm()) / torch.sin(theta),
        }
        _diagnose(f"check_slerp (alpha={alpha})", answer, reference, mistakes, atol=1e-4)
    _passed("check_slerp", cases)


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
EXERCISES: dict[str, Exercise] = {}
