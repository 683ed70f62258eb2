"""Checkers for sampling with DDPM (chapter 3): the step, the loop and two predictions. Chapter
6's DDIM checkers are in ``ddim``."""

from __future__ import annotations

import torch

from ..data import eight_gaussian_centres
from ..metrics import metric_floor, sliced_wasserstein
from ..samplers import ddpm_sample, ddpm_step
from ..schedules import NoiseSchedule, predict_x0
from ._common import (
    Exercise,
    ExerciseError,
    Mistake,
    _answer_of,
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

def _choice_cell(name: str, value: str) -> str:
    return f"def {name}():\n    return {value}\n"


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
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
}
