"""Checkers for sampling: the DDPM step and loop and two predictions (chapter 3); the DDIM step
and loop, and slerp (chapter 6)."""

from __future__ import annotations

import torch

from ..data import eight_gaussian_centres
from ..metrics import metric_floor, sliced_wasserstein
from ..samplers import ddim_sample, ddim_step, ddim_timesteps, ddpm_sample, ddpm_step
from ..schedules import NoiseSchedule, predict_x0
from ._common import (
    Exercise,
    ExerciseError,
    Mistake,
    _answer_of,
    _call_student,
    _diagnose,
    _name_the_mistake,
    _passed,
    checker,
)


@checker(forbid=("ddpm_step",))
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


class _MixtureOracle(torch.nn.Module):
    """The exact noise prediction E[eps | x_t] for data drawn from equal isotropic Gaussians
    of standard deviation ``std`` at ``centres`` (K, D): a perfect model to sample with, for
    the checkers of whole sampling loops. Called as ``model(x_t, t)``, x_t of shape (B, D)."""

    def __init__(self, schedule: NoiseSchedule, centres: torch.Tensor, std: float):
        super().__init__()
        self.alpha_bars, self.centres, self.std = schedule.alpha_bars.double(), centres.double(), std

    def forward(self, x_t: torch.Tensor, t, cond=None) -> torch.Tensor:
        t = torch.as_tensor(t).long().expand(len(x_t)).clamp(min=1)   # t = 0 read as t = 1
        alpha_bar = self.alpha_bars[t][:, None, None]                   # (B, 1, 1)
        x, mu = x_t.double()[:, None, :], self.centres[None]             # (B, 1, D), (1, K, D)
        var = alpha_bar * self.std**2 + 1 - alpha_bar                   # of x_t given the blob
        offset = x - alpha_bar.sqrt() * mu                              # (B, K, D)
        weights = (-(offset**2).sum(-1, keepdim=True) / (2 * var)).softmax(dim=1)
        x0 = (weights * (mu + alpha_bar.sqrt() * self.std**2 / var * offset)).sum(1)   # (B, D)
        eps = (x_t.double() - alpha_bar[:, 0].sqrt() * x0) / (1 - alpha_bar[:, 0]).sqrt()
        return eps.to(x_t.dtype)


def _oracle_schedule() -> tuple[NoiseSchedule, _MixtureOracle]:
    """A short schedule (T = 100, so a loop that hard-codes 1,000 steps shows) that still ends
    in nearly pure noise, and the perfect model of eight Gaussians for it."""
    schedule = NoiseSchedule.linear(100, beta_start=1e-3, beta_end=0.2)
    return schedule, _MixtureOracle(schedule, eight_gaussian_centres(), 0.1)


def _ddpm_loop(model, schedule, x_T, seed, *, steps=None, noise_last=False, no_noise=False,
               one_z=False, model_t=0, on_x_T=False, beta_tilde=False, eps_once=False,
               clip=None):
    """Algorithm 2 with sigma_t = sqrt(beta_t), z drawn from a generator seeded ``seed``, or
    with one of the usual loop mistakes."""
    generator = torch.Generator().manual_seed(seed)
    T, x = schedule.num_steps, x_T
    z_once = torch.randn(x.shape, generator=generator) if one_z else None
    eps_first = model(x_T, torch.full((len(x),), T)) if eps_once else None
    for t in range(T, 0, -1) if steps is None else steps:
        eps = eps_first if eps_once else model(x_T if on_x_T else x, torch.full((len(x),), t + model_t))
        if clip is not None:            # the package's step, x0 clipped (z drawn at t = 1 too)
            x = ddpm_step(schedule, eps, x, t, variance="beta", clip_x0=clip, generator=generator)
            continue
        alpha, alpha_bar, beta = schedule.alphas[t], schedule.alpha_bars[t], schedule.betas[t]
        mean = (x - beta / (1 - alpha_bar).sqrt() * eps) / alpha.sqrt()
        sigma2 = ((1 - schedule.alpha_bars[t - 1]) / (1 - alpha_bar) * beta if beta_tilde
                  else beta)
        if (t > 1 or noise_last) and not no_noise:      # z drawn only where it is added
            x = mean + sigma2.sqrt() * (z_once if one_z else torch.randn(x.shape, generator=generator))
        else:
            x = mean
    return x


_LOOP_HINT = ("Take T from schedule.num_steps (the checker's schedule has {T} steps), call the "
              "model as model(x, t_batch) with t_batch = torch.full((len(x),), t), and draw "
              "z = torch.randn(x.shape, generator=generator).")


@checker(forbid=("ddpm_sample",))
def check_ddpm_sample(fn, cases: int = 2) -> None:
    """Chapter 3. ``fn(model, schedule, x_T, generator)`` must run ancestral sampling
    (Algorithm 2 of Ho et al. 2020) from ``x_T``: for t = T, ..., 1 one network call
    ``model(x, t_batch)`` and one step with sigma_t = sqrt(beta_t) and a fresh
    z = torch.randn(x.shape, generator=generator) for t > 1; it returns x_0. The reference is
    ``ddpm_sample(..., variance="beta")``, driven by the same model and the same noise."""
    schedule, model = _oracle_schedule()
    T = schedule.num_steps
    labels, answers, references, mistakes = [], [], [], {}
    for case in range(cases):
        name, seed = f"check_ddpm_sample (case {case})", 30 + case
        x_T = torch.randn(16, 2, generator=torch.Generator().manual_seed(seed + 100))
        answer, again = (_answer_of(name, fn, (model, schedule, x_T,
                                               torch.Generator().manual_seed(seed)),
                                    _LOOP_HINT.format(T=T)) for _ in range(2))
        if isinstance(answer, torch.Tensor) and not torch.isfinite(answer).all():
            raise ExerciseError(f"{name}: your samples contain NaN or infinity. Did the loop take "
                                "a step from t = 0? That is the clean end: there 1 - alpha_bar_0 "
                                "= 0, and the loop must stop after the step from t = 1.")
        if isinstance(answer, torch.Tensor) and isinstance(again, torch.Tensor) and \
                answer.shape == again.shape and not torch.equal(answer, again):
            raise ExerciseError(f"{name}: two runs with generators seeded alike gave different "
                                "samples: draw every z from the generator passed in, "
                                "torch.randn(x.shape, generator=generator), not from torch's "
                                "global one (torch.randn(...) or torch.randn_like(x) alone).")
        reference = ddpm_sample(model, schedule, x_T.shape, x_T=x_T, variance="beta",
                                clip_x0=None, progress=False,
                                generator=torch.Generator().manual_seed(seed))
        wrong = {
            "t runs downwards, T, T - 1, ..., 1 (from noise to data); your loop ran upwards "
            "from t = 1.": dict(steps=range(1, T + 1)),
            "The first step is from t = T, the step of x_T; your loop started at T - 1 (the "
            "end of Python's range is exclusive, its start is not).":
                dict(steps=range(T - 1, 0, -1)),
            "The last step is from t = 1 and returns x_0; your loop stopped at t = 2 (the end "
            "of Python's range is exclusive).": dict(steps=range(T, 1, -1)),
            "No noise is added at the last step, t = 1, which returns x_0: add sigma_t z only "
            "for t > 1.": dict(noise_last=True),
            "Add sigma_t z at every step but the last: without it each step keeps only the "
            "mean, and the samples are too narrow.": dict(no_noise=True),
            "Draw a fresh z at every step: you drew one z before the loop and reused it, so the "
            "noise added at different steps is not independent.": dict(one_z=True),
            "Call the model with the step t of the state it sees, model(x, t); you passed t - 1.":
                dict(model_t=-1),
            "The model must see the current state x at every step; you passed it x_T each time.":
                dict(on_x_T=True),
            "This exercise asks for sigma_t^2 = beta_t; you used beta_tilde_t, the posterior "
            "variance (the package's default).": dict(beta_tilde=True),
            "The network must be called at every step, on the current state: your eps was "
            "computed once, before the loop, and reused.": dict(eps_once=True),
            "No clip_x0 here (the reference uses clip_x0=None): take the step of the formula, "
            "without clipping the x0 estimate to [-1, 1].": dict(clip=1.0),
        }
        labels.append(f"case {case}")
        answers.append(answer)
        references.append(reference)
        for hint, knobs in wrong.items():
            mistakes.setdefault(hint, []).append(_ddpm_loop(model, schedule, x_T, seed, **knobs))
    beta_1 = schedule.betas[1].sqrt().item()
    _loop_verdict("check_ddpm_sample", labels, answers, references, mistakes, {
        "No noise is added at the last step, t = 1, which returns x_0: your samples differ "
        "from the reference by noise of the size of sigma_1 z; add sigma_t z only for t > 1.":
            lambda d: d.abs().max() < 6 * beta_1 and 0.5 < d.std().item() / beta_1 < 2,
    }, "Check the loop against the exercise: t from T down to 1, the network called on the "
       "current state at every step, a fresh z from the generator passed in, sigma_t = "
       "sqrt(beta_t), no noise at t = 1, and no clip_x0.")
    _passed("check_ddpm_sample", len(labels))


def _choice(name: str, fn, options: dict[str, str]) -> str:
    """The student's ``fn()``, which must return one of ``options`` (a key)."""
    answer = _answer_of(name, fn, (), "The function takes no argument and returns your choice.")
    if not isinstance(answer, str) or answer.strip().lower() not in options:
        raise ExerciseError(f"{name}: expected one of {sorted(options)} (a str), got "
                            f"{type(answer).__name__} {answer!r:.40}")
    return answer.strip().lower()


def _blob_width(x: torch.Tensor, centres: torch.Tensor) -> float:
    distance = torch.cdist(x.double().cpu(), centres.double()).min(dim=1).values
    return distance[distance < 0.5].mean().item()


NO_NOISE_CHOICES = {"narrower": "narrower than the data's", "same": "about as wide as the data's",
                    "wider": "wider than the data's"}


@checker
def check_no_noise_prediction(fn, model, schedule: NoiseSchedule, data: torch.Tensor,
                              n: int = 400) -> None:
    """Chapter 3, predict then run. ``fn()`` returns a prediction, "narrower", "same" or
    "wider": the eight blobs of DDPM samples taken with sigma_t = 0 at every step, against the
    data's blobs. The checker runs that loop on ``model`` from ``n`` starting noises, measures
    the mean distance of the samples near a blob to its centre against ``data``'s, and grades
    the prediction by the measurement (within 15% counts as "same")."""
    predicted = _choice("check_no_noise_prediction", fn, NO_NOISE_CHOICES)
    x = torch.randn((n, 2), generator=torch.Generator().manual_seed(4))
    device = next(iter(model.parameters()), torch.empty(0)).device
    x = x.to(device)
    with torch.no_grad():
        for t in range(schedule.num_steps, 0, -1):          # DDPM's mean only: sigma_t = 0
            eps = model(x, torch.full((n,), t, device=device))
            x = (x - schedule.betas[t] / schedule.one_minus_alpha_bars[t].sqrt() * eps) \
                / schedule.alphas[t].sqrt()
    centres = eight_gaussian_centres()
    ratio = _blob_width(x, centres) / _blob_width(data[:n], centres)
    measured = "narrower" if ratio < 0.85 else "wider" if ratio > 1.15 else "same"
    print(f"You predicted: {NO_NOISE_CHOICES[predicted]}. Measured on {n} samples: blob width "
          f"{ratio:.2f} times the data's, {NO_NOISE_CHOICES[measured]}.")
    if predicted != measured:
        raise ExerciseError(
            "check_no_noise_prediction: not this time. Without sigma_t z the noise that each "
            "step removes is never put back: DDPM's mean gives the predicted noise less weight "
            "than sqrt(1 - alpha_bar_{t-1}), so the state ends up holding less noise than its "
            "step says, and the samples are pulled together towards the blob centres.")
    print("✅ check_no_noise_prediction: your prediction matches the measurement.")


FLOOR_CHOICES = {
    "a": "falls by about sqrt(10) = 3.2, as 1/sqrt(n)",
    "b": "falls, but by clearly less than sqrt(10)",
    "c": "stays about the same",
    "d": "grows",
}


@checker
def check_floor_scaling(fn, data: torch.Tensor) -> None:
    """Chapter 3. ``fn()`` returns "a", "b", "c" or "d" (``FLOOR_CHOICES``): how the
    sliced-Wasserstein floor changes from 300 to 3,000 points. The checker measures both
    floors on ``data`` and grades the choice by their ratio."""
    predicted = _choice("check_floor_scaling", fn, FLOOR_CHOICES)

    def floor(n: int) -> float:        # seeded: the draws of the halves and the directions
        directions = torch.Generator().manual_seed(1)
        return metric_floor(lambda a, b: sliced_wasserstein(a, b, generator=directions), data, n,
                            repeats=15, generator=torch.Generator().manual_seed(0))
    floors = [floor(n) for n in (300, 3000)]         # medians of 15 draws: steadier than 5
    ratio = floors[0] / floors[1]
    measured = ("d" if ratio < 0.9 else "c" if ratio < 1.1 else
                "b" if ratio < 0.9 * 10**0.5 else "a")
    print(f"floor at 300 points {floors[0]:.3f}, at 3,000 points {floors[1]:.3f}: it falls by a "
          f"factor {ratio:.2f} (sqrt(10) = {10**0.5:.2f}); you chose {predicted}: "
          f"{FLOOR_CHOICES[predicted]}.")
    hint = {
        "a": "1/sqrt(n) would hold if every point's error were independent of the others. "
             "Think of what else a finite sample gets wrong: how many of its points land in "
             "each of the eight blobs, and what moving that surplus to another blob costs.",
        "b": "",
        "c": "a larger sample is a better picture of the same distribution: the distance "
             "between two samples of the data shrinks as they grow.",
        "d": "two larger samples of the same distribution are closer, not further apart.",
    }
    if predicted != measured:
        raise ExerciseError(f"check_floor_scaling: not this one: {hint[predicted]} The "
                            f"measurement says {measured}: {FLOOR_CHOICES[measured]}.")
    if measured == "b":
        print("Why: part of the floor is how a finite sample splits its points among the eight "
              "blobs. That imbalance is of order 1/sqrt(n), and moving a mass m across a "
              "distance d costs a distance of order d sqrt(m), so this part shrinks only like "
              "n^(-1/4).")
    print("✅ check_floor_scaling: your choice matches the measurement.")


@checker(forbid=("ddim_step",))
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
            "You used alpha_bar_t where sqrt(alpha_bar_t) belongs: x0_hat divides by the "
            "square root, sqrt(alpha_bar_t).":
                alpha_bar_prev.sqrt() * (x_t - (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t
                + (1 - alpha_bar_prev).sqrt() * eps,
            "You used 1 - alpha_bar where sqrt(1 - alpha_bar) belongs, in both terms: the noise "
            "is scaled by the standard deviation, not the variance.":
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
            "You used alpha_bar_prev where sqrt(alpha_bar_prev) belongs: the new state keeps "
            "sqrt(alpha_bar_prev) · x0_hat, the square root of the signal's variance.":
                alpha_bar_prev * x0_hat + (1 - alpha_bar_prev).sqrt() * eps,
            "You used 1 - alpha_bar_prev where sqrt(1 - alpha_bar_prev) belongs: the noise "
            "direction is scaled by the standard deviation, the square root.":
                alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_prev) * eps,
            "You used 1 - alpha_bar_t where sqrt(1 - alpha_bar_t) belongs in x0_hat: "
            "x0_hat = (x_t - sqrt(1 - alpha_bar_t) · eps) / sqrt(alpha_bar_t).":
                alpha_bar_prev.sqrt() * (x_t - (1 - alpha_bar_t) * eps) / alpha_bar_t.sqrt()
                + (1 - alpha_bar_prev).sqrt() * eps,
            "You used alpha_bar and 1 - alpha_bar where their square roots belong, in both "
            "terms: every coefficient of the step is a standard deviation, a square root.":
                alpha_bar_prev * (x_t - (1 - alpha_bar_t) * eps) / alpha_bar_t
                + (1 - alpha_bar_prev) * eps,
        }, atol=1e-4)
    _passed("check_ddim_step", cases)


def _linspace_grids(T: int, num_steps: int) -> dict[str, list]:
    """The grids a loop gets from torch.linspace instead of ddim_timesteps, by how it was
    rounded."""
    ends = torch.linspace(T, 1, num_steps)
    open_end = torch.linspace(T, 0, num_steps + 1)[:-1]
    return {"linspace(T, 1, num_steps), rounded": ends.round().long().tolist(),
            "linspace(T, 1, num_steps), truncated": ends.long().tolist(),
            "linspace(T, 0, num_steps + 1), truncated": open_end.long().tolist()}


def _loop_verdict(name: str, labels: list, answers: list, references: list, mistakes: dict,
                  patterns: dict, fallback: str) -> None:
    """``_name_the_mistake`` for a whole loop: a wrong answer that matches no recorded mistake
    is tested against ``patterns`` (hint: test of the difference answer - reference, true in
    every case), and otherwise gets ``fallback``, a hint about loops rather than formulas."""
    try:
        _name_the_mistake(name, labels, answers, references, mistakes, atol=1e-4)
    except ExerciseError as error:
        if "term by term" not in str(error):
            raise
        differences = [a.double() - r.double() for a, r in zip(answers, references)]
        for hint, test in patterns.items():
            if all(bool(test(d)) for d in differences):
                raise ExerciseError(f"{name}: not yet. {hint}") from None
        largest = max(d.abs().max().item() for d in differences)
        raise ExerciseError(f"{name}: not yet; your samples differ from the reference by up to "
                            f"{largest:.3g}. {fallback}") from None


def _pairs(grid: list) -> list:
    return list(zip(grid[:-1], grid[1:]))


def _ddim_loop(model, schedule, x_T, pairs, *, model_at_prev=False, on_x_T=False, eps_once=False,
               clip=None):
    """Deterministic DDIM (eta = 0) through the steps (t, t_prev) of ``pairs``, or with one of
    the usual loop mistakes; any t_prev, even one above t, is used as given."""
    alpha_bars, x = schedule.alpha_bars.double(), x_T
    eps_first = model(x_T, torch.full((len(x),), pairs[0][0])) if eps_once else None
    for t, t_prev in pairs:
        eps = eps_first if eps_once else model(x_T if on_x_T else x,
                                               torch.full((len(x),), t_prev if model_at_prev else t))
        if clip is not None:
            x = ddim_step(schedule, eps, x, t, t_prev, clip_x0=clip)
            continue
        alpha_bar, alpha_bar_prev = alpha_bars[t], alpha_bars[t_prev]
        x0_hat = (x - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()
        x = (alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_prev).sqrt() * eps).to(x_T.dtype)
    return x


@checker(forbid=("ddim_sample",))
def check_ddim_sample(fn, cases: int = 2) -> None:
    """Chapter 6. ``fn(model, schedule, x_T, num_steps)`` must run deterministic DDIM (eta = 0)
    from ``x_T`` on the steps ``ddim_timesteps(T, num_steps)``, from T down, each step going to
    the next step of that list and the last one to t_prev = 0; it returns x_0. The reference
    is ``ddim_sample(..., eta=0.0, clip_x0=None)`` with the same model and starting noise."""
    schedule, model = _oracle_schedule()
    T = schedule.num_steps
    labels, answers, references, mistakes = [], [], [], {}
    for case, num_steps in enumerate([7, 10][:cases]):
        name = f"check_ddim_sample (num_steps={num_steps})"
        x_T = torch.randn(16, 2, generator=torch.Generator().manual_seed(60 + case))
        hint = (f"The checker's schedule has T = schedule.num_steps = {T}. Each step goes from "
                "t to a smaller t_prev (the next step of the grid, 0 after the last): "
                "ddim_step(schedule, eps, x, t, t_prev) refuses t_prev >= t.")
        answer = _answer_of(name, fn, (model, schedule, x_T, num_steps), hint)
        again = _answer_of(name, fn, (model, schedule, x_T, num_steps), hint)
        if isinstance(answer, torch.Tensor) and isinstance(again, torch.Tensor) and \
                answer.shape == again.shape and not torch.equal(answer, again):
            raise ExerciseError(f"{name}: two runs from the same x_T gave different samples: "
                                "DDIM with eta = 0 draws no noise; leave eta at 0.")
        reference = ddim_sample(model, schedule, x_T.shape, x_T=x_T, num_steps=num_steps,
                                eta=0.0, clip_x0=None, progress=False)
        steps = ddim_timesteps(T, num_steps).tolist()
        stride = T // num_steps
        wrong = {
            "The last step goes from the smallest step of the grid to t_prev = 0 (alpha_bar_0 "
            "= 1, the clean end); your loop stopped at the grid's last step.": (_pairs(steps), {}),
            "At the end, t_prev = 0 (alpha_bar_0 = 1), not 1: the last step lands on the clean "
            "end.": (_pairs(steps + [1]), {}),
            "t_prev is the next step of the grid, not t - 1: with a stride, the step jumps to "
            "the next grid step, and alpha_bar_prev is read there.":
                ([(t, t - 1) for t in steps], {}),
            "The steps run downwards from T: you went through the grid in reversed order.":
                (_pairs(steps[::-1] + [0]), {}),
            f"Use the grid ddim_timesteps(T, num_steps) (here {steps[:3]} ...); yours, "
            f"range(T, 0, -(T // num_steps)), has a different stride or length.":
                (_pairs(list(range(T, 0, -stride)) + [0]), {}),
            "Call the model at the step t of the state it sees, model(x, t); you passed t_prev.":
                (_pairs(steps + [0]), dict(model_at_prev=True)),
            "The model must see the current state x at every step; you passed it x_T each time.":
                (_pairs(steps + [0]), dict(on_x_T=True)),
            "The network must be called at every step, on the current state: your eps was "
            "computed once, before the loop, and reused.": (_pairs(steps + [0]), dict(eps_once=True)),
            "No clip_x0 here (the reference uses clip_x0=None): the lesson's samplers clip the "
            "x0 estimate to [-1, 1], but this exercise asks for the plain step.":
                (_pairs(steps + [0]), dict(clip=1.0)),
        }
        grid_hint = (f"Use ddim_timesteps(T, num_steps), the trailing grid (here {steps[:3]} ...); "
                     "yours, from torch.linspace, has other steps")
        for label, grid in _linspace_grids(T, num_steps).items():
            if grid != steps:
                wrong[f"{grid_hint} ({label})."] = (_pairs(grid + [0]), {})
        labels.append(f"num_steps={num_steps}")
        answers.append(answer)
        references.append(reference)
        for message, (pairs, knobs) in wrong.items():
            mistakes.setdefault(message, []).append(_ddim_loop(model, schedule, x_T, pairs, **knobs))
    _loop_verdict("check_ddim_sample", labels, answers, references, mistakes, {}, (
        "Check the loop against the exercise: the grid ddim_timesteps(T, num_steps) (the "
        "trailing grid), from T down, t_prev the next step of the grid and 0 after the last, "
        "the network called on the current state at t, eta = 0, and no clip_x0 (the reference "
        "uses clip_x0=None)."))
    _passed("check_ddim_sample", len(labels))


def _slerp_unnormalised(a, b, alpha):
    theta = torch.arccos(((a.flatten() @ b.flatten()) / a.numel()).clamp(-1, 1))
    return (torch.sin(torch.tensor(1 - alpha) * theta) * a
            + torch.sin(torch.tensor(alpha) * theta) * b) / torch.sin(theta)


def _slerp_case(alpha: float, g: torch.Generator, parallel: bool):
    """Two (1, 4, 4) tensors at an angle near 50 degrees (not the near-right angle of two
    independent draws, where the arc, the line and some mistakes nearly agree); with
    ``parallel``, b = 2.5 a with entries ±1, so that the normalised dot product is exactly 1
    and theta exactly 0."""
    if not parallel:
        a = torch.randn(1, 4, 4, generator=g)
        return a, 0.6 * a + 0.8 * torch.randn(1, 4, 4, generator=g)
    a = torch.randint(0, 2, (1, 4, 4), generator=g).float() * 2 - 1
    return a, 2.5 * a


@checker(forbid=("slerp",))
def check_slerp(fn, cases: int = 6) -> None:
    """Chapter 6. ``fn(a, b, alpha)`` must return the spherical interpolation
    sin((1-alpha)·theta)/sin(theta) · a + sin(alpha·theta)/sin(theta) · b, theta the angle
    between the flattened a and b, arccos(a · b / (|a| |b|)); for parallel a and b (theta
    near 0) the straight line (1 - alpha)·a + alpha·b, the arc's limit. The last cases are
    parallel."""
    g = torch.Generator().manual_seed(8)
    plan = [(0.3, False), (0.5, False), (0.0, False), (1.0, False), (0.3, True), (0.7, True)]
    for alpha, parallel in plan[:cases]:
        name = f"check_slerp (alpha={alpha}{', a and b parallel' if parallel else ''})"
        a, b = _slerp_case(alpha, g, parallel)
        answer = _answer_of(name, fn, (a, b, alpha),
                            "a and b are tensors of shape (1, 4, 4) and alpha is a float.")
        line = (1 - alpha) * a + alpha * b
        if parallel:
            if isinstance(answer, torch.Tensor) and not torch.isfinite(answer).all():
                raise ExerciseError(
                    f"{name}: your answer contains NaN or inf. Here b = 2.5 a: the angle is "
                    "theta = 0 and sin(theta) = 0, so both weights are 0 / 0. On the arc's limit "
                    "the weights tend to 1 - alpha and alpha: when theta is tiny (say below "
                    "1e-6), fall back to the straight line (1 - alpha)·a + alpha·b.")
            _diagnose(name, answer, line, {
                "For parallel a and b (theta = 0) the result is the straight line "
                "(1 - alpha)·a + alpha·b; your fallback swapped the weights of a and b.":
                    alpha * a + (1 - alpha) * b}, atol=1e-4)
            continue
        theta = torch.arccos((a.flatten() @ b.flatten()) / (a.norm() * b.norm()))
        if isinstance(answer, torch.Tensor) and not torch.isfinite(answer).all():
            raise ExerciseError(
                f"{name}: your answer contains NaN or inf: the angle is unnormalised. arccos is "
                "only defined on [-1, 1], and a · b of two noise tensors is far outside it: "
                "theta = arccos(a · b / (|a| |b|)), the dot product divided by both norms (and "
                "clamped to [-1, 1] against rounding).")
        if isinstance(answer, torch.Tensor) and answer.norm() > 100 * (a.norm() + b.norm()):
            raise ExerciseError(
                f"{name}: your answer is enormous, so sin(theta) is nearly 0: theta came out 0 "
                "or pi. The angle is unnormalised: the dot product a · b, not divided by both "
                "norms, was clamped to [-1, 1]. Use theta = arccos(a · b / (|a| |b|)).")
        sin_a, sin_b = torch.sin(torch.tensor(1 - alpha) * theta), torch.sin(torch.tensor(alpha) * theta)
        reference = (sin_a * a + sin_b * b) / torch.sin(theta)
        mistakes = {   # checked only when the answer is wrong
            "That is the straight line (1 - alpha)·a + alpha·b; slerp follows the arc. If you "
            "wrote the arc with a fallback for parallel inputs, your theta came out 0: the angle "
            "is unnormalised. Divide the dot product by both norms, a · b / (|a| |b|), before "
            "arccos.": line,
            "The weight of a uses (1 - alpha); of b, alpha: you swapped them.":
                (sin_b * a + sin_a * b) / torch.sin(theta),
            "The angle is unnormalised: theta is the angle between a and b, "
            "arccos(a · b / (|a| |b|)); divide the dot product by both norms before arccos.":
                _slerp_unnormalised(a, b, alpha),
            "Divide both weights by sin(theta): without it the norm shrinks along the arc.":
                sin_a * a + sin_b * b,
            "theta is arccos of the cosine; you used the cosine itself as the angle.":
                (torch.sin((1 - alpha) * torch.cos(theta)) * a
                 + torch.sin(alpha * torch.cos(theta)) * b) / torch.sin(torch.cos(theta)),
            "Interpolate a and b themselves, not a / |a| and b / |b|: the result must keep the "
            "noise's norm, not lie on the unit sphere.":
                (sin_a * a / a.norm() + sin_b * b / b.norm()) / torch.sin(theta),
        }
        _diagnose(name, answer, reference, mistakes, atol=1e-4)
    _passed("check_slerp", min(cases, len(plan)))


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
def _variant(template: str, *replacements: tuple[str, str]) -> str:
    """``template`` (a correct student cell) with each (old, new) replaced, each exactly once."""
    for old, new in replacements:
        if template.count(old) != 1:
            raise ValueError(f"replacements: expected {old!r} once in the template")
        template = template.replace(old, new)
    return template


_DDPM_STEP = """def my_ddpm_step(schedule, eps, x_t, t, z):
    alpha, alpha_bar, beta = schedule.alphas[t], schedule.alpha_bars[t], schedule.betas[t]
    mean = (x_t - beta / (1 - alpha_bar).sqrt() * eps) / alpha.sqrt()
    return mean + beta.sqrt() * z if t > 1 else mean
"""
_BETAS = "schedule.alphas[t], schedule.alpha_bars[t], schedule.betas[t]"
_MEAN = "mean = (x_t - beta / (1 - alpha_bar).sqrt() * eps) / alpha.sqrt()"
_RETURN = "return mean + beta.sqrt() * z if t > 1 else mean"

_DDPM_LOOP = """def my_ddpm_sample(model, schedule, x_T, generator):
    x = x_T
    for t in range(schedule.num_steps, 0, -1):
        eps = model(x, torch.full((len(x),), t))
        alpha, alpha_bar, beta = schedule.alphas[t], schedule.alpha_bars[t], schedule.betas[t]
        x = (x - beta / (1 - alpha_bar).sqrt() * eps) / alpha.sqrt()
        if t > 1:
            x = x + beta.sqrt() * torch.randn(x.shape, generator=generator)
    return x
"""
_RANGE = "range(schedule.num_steps, 0, -1)"
_CALL = "model(x, torch.full((len(x),), t))"
_NOISE = "x = x + beta.sqrt() * torch.randn(x.shape, generator=generator)"

_NO_NOISE_SETUP = """schedule = NoiseSchedule.linear(1000)
held_out = dl.data.toy_2d("eight_gaussians", 10_000, generator=torch.Generator().manual_seed(0))
from diffusion_lite.checks.sampling import _MixtureOracle
denoiser = _MixtureOracle(schedule, dl.data.eight_gaussian_centres(), 0.1)   # a perfect model
"""

_DDIM_STEP = """def my_ddim_step(x_t, eps, alpha_bar_t, alpha_bar_prev):
    x0_hat = (x_t - (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t.sqrt()
    return alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_prev).sqrt() * eps
"""
_X0 = "x0_hat = (x_t - (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t.sqrt()"
_NEW = "return alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_prev).sqrt() * eps"

_SLERP = """def my_slerp(a, b, alpha):
    cos = (a.flatten() @ b.flatten()) / (a.norm() * b.norm())
    theta = torch.arccos(cos.clamp(-1, 1))
    if theta < 1e-6:
        return (1 - alpha) * a + alpha * b
    return (torch.sin((1 - alpha) * theta) * a + torch.sin(alpha * theta) * b) / torch.sin(theta)
"""
_COS = "cos = (a.flatten() @ b.flatten()) / (a.norm() * b.norm())"
_FALLBACK = "    if theta < 1e-6:\n        return (1 - alpha) * a + alpha * b\n"
_ARC = "return (torch.sin((1 - alpha) * theta) * a + torch.sin(alpha * theta) * b) / torch.sin(theta)"

_DDIM_LOOP = """def my_ddim_sample(model, schedule, x_T, num_steps):
    steps = ddim_timesteps(schedule.num_steps, num_steps).tolist()
    x = x_T
    for t, t_prev in zip(steps, steps[1:] + [0]):
        eps = model(x, torch.full((len(x),), t))
        x = ddim_step(schedule, eps, x, t, t_prev)
    return x
"""
_GRID = "steps = ddim_timesteps(schedule.num_steps, num_steps).tolist()"
_PAIRS = "zip(steps, steps[1:] + [0])"
_STEP = "x = ddim_step(schedule, eps, x, t, t_prev)"
_OWN_STEP = ("alpha_bar, alpha_bar_prev = schedule.alpha_bars[t], schedule.alpha_bars[t_prev]\n"
             "        x0_hat = (x - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()\n"
             "        x = alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_prev).sqrt() * eps")


def _choice_cell(name: str, value: str) -> str:
    return f"def {name}():\n    return {value}\n"


EXERCISES: dict[str, Exercise] = {
    "ex-sampling-ddpm-step": Exercise("transcription", reference="diffusion_lite.samplers.ddpm_step",
                                      mistakes=(
        Mistake("No noise is added at the last step", _variant(_DDPM_STEP, (_RETURN, "return mean + beta.sqrt() * z"))),
        Mistake("standard deviation sqrt\\(beta_t\\)", _variant(_DDPM_STEP, (_RETURN, "return mean + beta * z if t > 1 else mean"))),
        Mistake("not by beta_t alone", _variant(_DDPM_STEP, (_MEAN, "mean = (x_t - beta * eps) / alpha.sqrt()"))),
        Mistake("Take the square root of 1 - alpha_bar_t", _variant(_DDPM_STEP, (_MEAN, "mean = (x_t - beta / (1 - alpha_bar) * eps) / alpha.sqrt()"))),
        Mistake("Divide by sqrt\\(alpha_t\\)", _variant(_DDPM_STEP, (_MEAN, "mean = (x_t - beta / (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()"))),
        Mistake("you added it", _variant(_DDPM_STEP, (_MEAN, "mean = (x_t + beta / (1 - alpha_bar).sqrt() * eps) / alpha.sqrt()"))),
        Mistake("You used beta_tilde_t", _variant(_DDPM_STEP, (_RETURN,
            "beta_tilde = (1 - schedule.alpha_bars[t - 1]) / (1 - alpha_bar) * beta\n"
            "    return mean + beta_tilde.sqrt() * z if t > 1 else mean"))),
        Mistake("you read index t - 1", _variant(_DDPM_STEP, (_BETAS, "schedule.alphas[t - 1], schedule.alpha_bars[t - 1], schedule.betas[t - 1]"))),
        Mistake("the step from t = 2 returns x_1", _variant(_DDPM_STEP, (_RETURN, "return mean + beta.sqrt() * z if t > 2 else mean"))),
        Mistake("at every step but the last", _variant(_DDPM_STEP, (_RETURN, "return mean"))),
        Mistake("in place", _variant(_DDPM_STEP, (_RETURN, "z *= beta.sqrt()\n    return mean + z if t > 1 else mean"))),
        Mistake("calls the package's ddpm_step", "def my_ddpm_step(schedule, eps, x_t, t, z):\n"
                "    return ddpm_step(schedule, eps, x_t, t, variance=\"beta\")\n"),
    )),
    "ex-sampling-ddpm-loop": Exercise("loop", reference="diffusion_lite.samplers.ddpm_sample", mistakes=(
        Mistake("ran upwards", _variant(_DDPM_LOOP, (_RANGE, "range(1, schedule.num_steps + 1)"))),
        Mistake("started at T - 1", _variant(_DDPM_LOOP, (_RANGE, "range(schedule.num_steps - 1, 0, -1)"))),
        Mistake("stopped at t = 2", _variant(_DDPM_LOOP, (_RANGE, "range(schedule.num_steps, 1, -1)"))),
        Mistake("step from t = 0", _variant(_DDPM_LOOP, (_RANGE, "range(schedule.num_steps, -1, -1)"))),
        Mistake("schedule.num_steps", _variant(_DDPM_LOOP, (_RANGE, "range(1000, 0, -1)"))),
        Mistake("No noise is added at the last step", _variant(_DDPM_LOOP, (
            "        if t > 1:\n            " + _NOISE, "        " + _NOISE))),
        Mistake("at every step but the last", _variant(_DDPM_LOOP, (
            "        if t > 1:\n            " + _NOISE + "\n", ""))),
        Mistake("fresh z at every step", _variant(_DDPM_LOOP, (
            "    x = x_T\n", "    x = x_T\n    z = torch.randn(x.shape, generator=generator)\n"),
            (_NOISE, "x = x + beta.sqrt() * z"))),
        Mistake("generator passed in", _variant(_DDPM_LOOP, (_NOISE, "x = x + beta.sqrt() * torch.randn_like(x)"))),
        Mistake("you passed t - 1", _variant(_DDPM_LOOP, (_CALL, "model(x, torch.full((len(x),), t - 1))"))),
        Mistake("x_T each time", _variant(_DDPM_LOOP, (_CALL, "model(x_T, torch.full((len(x),), t))"))),
        Mistake("beta_tilde_t", _variant(_DDPM_LOOP, (_NOISE,
            "sigma2 = (1 - schedule.alpha_bars[t - 1]) / (1 - alpha_bar) * beta\n"
            "            x = x + sigma2.sqrt() * torch.randn(x.shape, generator=generator)"))),
        Mistake("in place", _variant(_DDPM_LOOP, (
            "x = (x - beta / (1 - alpha_bar).sqrt() * eps) / alpha.sqrt()",
            "x -= beta / (1 - alpha_bar).sqrt() * eps\n        x /= alpha.sqrt()"))),
        Mistake("eps was computed once", _variant(_DDPM_LOOP, (
            "    x = x_T\n", "    x = x_T\n    eps = model(x_T, torch.full((len(x),), schedule.num_steps))\n"),
            ("        eps = model(x, torch.full((len(x),), t))\n", ""))),
        Mistake("No clip_x0 here", _variant(_DDPM_LOOP, (
            "        alpha, alpha_bar, beta = schedule.alphas[t], schedule.alpha_bars[t], schedule.betas[t]\n"
            "        x = (x - beta / (1 - alpha_bar).sqrt() * eps) / alpha.sqrt()\n"
            "        if t > 1:\n            " + _NOISE + "\n",
            "        x = ddpm_step(schedule, eps, x, t, variance=\"beta\", clip_x0=1.0, generator=generator)\n"))),
        Mistake("calls the package's ddpm_sample", "def my_ddpm_sample(model, schedule, x_T, generator):\n"
                "    return ddpm_sample(model, schedule, x_T.shape, x_T=x_T, variance=\"beta\", "
                "clip_x0=None, progress=False, generator=generator)\n"),
    )),
    "ex-sampling-no-noise": Exercise("prediction", setup=_NO_NOISE_SETUP, mistakes=(
        Mistake("never put back", _choice_cell("my_no_noise_prediction", '"wider"')),
        Mistake("never put back", _choice_cell("my_no_noise_prediction", '"same"')),
        Mistake("expected one of", _choice_cell("my_no_noise_prediction", '"b"')),
        Mistake("expected one of", _choice_cell("my_no_noise_prediction", "0.5")),
    )),
    "ex-sampling-floor": Exercise("written-checkable", setup=_NO_NOISE_SETUP, mistakes=(
        Mistake("how many of its points land in each of the eight blobs", _choice_cell("my_floor_scaling", '"a"')),
        Mistake("better picture", _choice_cell("my_floor_scaling", '"c"')),
        Mistake("closer, not further", _choice_cell("my_floor_scaling", '"d"')),
        Mistake("expected one of", _choice_cell("my_floor_scaling", "3.2")),
    )),
    "ex-ddim-step": Exercise("transcription", reference="diffusion_lite.samplers.ddim_step", mistakes=(
        Mistake("noise direction", _variant(_DDIM_STEP, (_NEW, "return alpha_bar_prev.sqrt() * x0_hat"))),
        Mistake("alpha_bar_t where sqrt\\(alpha_bar_t\\) belongs", _variant(_DDIM_STEP, (_X0, "x0_hat = (x_t - (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t"))),
        Mistake("1 - alpha_bar_t where sqrt\\(1 - alpha_bar_t\\) belongs in x0_hat", _variant(_DDIM_STEP, (_X0, "x0_hat = (x_t - (1 - alpha_bar_t) * eps) / alpha_bar_t.sqrt()"))),
        Mistake("alpha_bar_prev where sqrt\\(alpha_bar_prev\\) belongs", _variant(_DDIM_STEP, (_NEW, "return alpha_bar_prev * x0_hat + (1 - alpha_bar_prev).sqrt() * eps"))),
        Mistake("1 - alpha_bar_prev where sqrt\\(1 - alpha_bar_prev\\) belongs", _variant(_DDIM_STEP, (_NEW, "return alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_prev) * eps"))),
        Mistake("sqrt\\(1 - alpha_bar\\) belongs, in both terms", _variant(_DDIM_STEP,
            (_X0, "x0_hat = (x_t - (1 - alpha_bar_t) * eps) / alpha_bar_t.sqrt()"),
            (_NEW, "return alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_prev) * eps"))),
        Mistake("square roots belong, in both", _variant(_DDIM_STEP,
            (_X0, "x0_hat = (x_t - (1 - alpha_bar_t) * eps) / alpha_bar_t"),
            (_NEW, "return alpha_bar_prev * x0_hat + (1 - alpha_bar_prev) * eps"))),
        Mistake("swapped", _variant(_DDIM_STEP,
            (_X0, "x0_hat = (x_t - (1 - alpha_bar_prev).sqrt() * eps) / alpha_bar_prev.sqrt()"),
            (_NEW, "return alpha_bar_t.sqrt() * x0_hat + (1 - alpha_bar_t).sqrt() * eps"))),
        Mistake("x0_hat itself", _variant(_DDIM_STEP, (_NEW, "return x0_hat"))),
        Mistake("level you move to", _variant(_DDIM_STEP, (_NEW, "return alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_t).sqrt() * eps"))),
        Mistake("you added it", _variant(_DDIM_STEP, (_X0, "x0_hat = (x_t + (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t.sqrt()"))),
        Mistake("not x_t", _variant(_DDIM_STEP, (_NEW, "return alpha_bar_prev.sqrt() * x_t + (1 - alpha_bar_prev).sqrt() * eps"))),
        Mistake("in place", _variant(_DDIM_STEP, (_X0, "x_t -= (1 - alpha_bar_t).sqrt() * eps\n    x0_hat = x_t / alpha_bar_t.sqrt()"))),
    )),
    "ex-ddim-slerp": Exercise("transcription", reference="diffusion_lite.samplers.slerp", mistakes=(
        Mistake("straight line", _variant(_SLERP, (_ARC, "return (1 - alpha) * a + alpha * b"))),
        Mistake("you swapped them", _variant(_SLERP, (_ARC, "return (torch.sin(alpha * theta) * a + torch.sin((1 - alpha) * theta) * b) / torch.sin(theta)"))),
        Mistake("unnormalised", _variant(_SLERP, (_COS, "cos = a.flatten() @ b.flatten()"),
                                          ("cos.clamp(-1, 1)", "cos"))),
        Mistake("unnormalised", _variant(_SLERP, (_COS, "cos = a.flatten() @ b.flatten()"))),
        Mistake("Divide both weights by sin\\(theta\\)", _variant(_SLERP, (_ARC, "return torch.sin((1 - alpha) * theta) * a + torch.sin(alpha * theta) * b"))),
        Mistake("cosine itself", _variant(_SLERP, ("theta = torch.arccos(cos.clamp(-1, 1))", "theta = cos"))),
        Mistake("unit sphere", _variant(_SLERP, (_ARC, "return (torch.sin((1 - alpha) * theta) * a / a.norm() + torch.sin(alpha * theta) * b / b.norm()) / torch.sin(theta)"))),
        Mistake("fall back to the straight line", _variant(_SLERP, (_FALLBACK, ""))),
        Mistake("fallback swapped the weights", _variant(_SLERP, (_FALLBACK, "    if theta < 1e-6:\n        return alpha * a + (1 - alpha) * b\n"))),
        Mistake("in place", _variant(_SLERP, (_COS, "a /= a.norm()\n    b /= b.norm()\n    cos = a.flatten() @ b.flatten()"))),
        Mistake("calls the package's slerp", "def my_slerp(a, b, alpha):\n    return slerp(a, b, alpha)\n"),
    )),
    "ex-ddim-loop": Exercise("loop", reference="diffusion_lite.samplers.ddim_sample", mistakes=(
        Mistake("stopped at the grid's last step", _variant(_DDIM_LOOP, (_PAIRS, "zip(steps, steps[1:])"))),
        Mistake("not 1: the last step", _variant(_DDIM_LOOP, (_PAIRS, "zip(steps, steps[1:] + [1])"))),
        Mistake("not t - 1", _variant(_DDIM_LOOP, (_PAIRS, "zip(steps, [t - 1 for t in steps])"))),
        Mistake("not t - 1", _variant(_DDIM_LOOP, (_PAIRS, "zip(steps, [t - 1 for t in steps])"),
                                       (_STEP, _OWN_STEP))),
        Mistake("smaller t_prev", _variant(_DDIM_LOOP, (_GRID, "steps = ddim_timesteps(schedule.num_steps, num_steps).flip(0).tolist()"))),
        Mistake("reversed order", _variant(_DDIM_LOOP, (_GRID, "steps = ddim_timesteps(schedule.num_steps, num_steps).flip(0).tolist()"),
                                            (_STEP, _OWN_STEP))),
        Mistake("Use the grid ddim_timesteps", _variant(_DDIM_LOOP, (_GRID, "steps = list(range(schedule.num_steps, 0, -(schedule.num_steps // num_steps)))"))),
        Mistake("you passed t_prev", _variant(_DDIM_LOOP, ("model(x, torch.full((len(x),), t))", "model(x, torch.full((len(x),), t_prev))"))),
        Mistake("x_T each time", _variant(_DDIM_LOOP, ("model(x, torch.full((len(x),), t))", "model(x_T, torch.full((len(x),), t))"))),
        Mistake("leave eta at 0", _variant(_DDIM_LOOP, (_STEP, "x = ddim_step(schedule, eps, x, t, t_prev, eta=1.0)"))),
        Mistake("No clip_x0 here \\(the reference uses clip_x0=None\\)", _variant(_DDIM_LOOP, (_STEP, "x = ddim_step(schedule, eps, x, t, t_prev, clip_x0=1.0)"))),
        Mistake("Use ddim_timesteps\\(T, num_steps\\), the trailing grid", _variant(_DDIM_LOOP, (_GRID, "steps = torch.linspace(schedule.num_steps, 1, num_steps).round().long().tolist()"))),
        Mistake("Use ddim_timesteps\\(T, num_steps\\), the trailing grid", _variant(_DDIM_LOOP, (_GRID, "steps = torch.linspace(schedule.num_steps, 1, num_steps).long().tolist()"))),
        Mistake("eps was computed once", _variant(_DDIM_LOOP, (
            "    x = x_T\n", "    x = x_T\n    eps = model(x_T, torch.full((len(x),), steps[0]))\n"),
            ("        eps = model(x, torch.full((len(x),), t))\n", ""))),
        Mistake("calls the package's ddim_sample", "def my_ddim_sample(model, schedule, x_T, num_steps):\n"
                "    return ddim_sample(model, schedule, x_T.shape, x_T=x_T, num_steps=num_steps, "
                "clip_x0=None, progress=False)\n"),
    )),
    "ex-ddim-invert": Exercise("written"),
}
