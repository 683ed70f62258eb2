"""Exercise checkers. Call one with your function: it prints a pass, or raises
``ExerciseError`` with a hint that says what is wrong.

Each checker runs the student's function on random inputs, compares it with the package's
reference, and, when they disagree, compares it with the usual mistakes to name the one made.
"""

from __future__ import annotations

import torch

from .losses import epsilon_loss
from .nn import timestep_embedding
from .schedules import NoiseSchedule, add_noise, extract, predict_x0


class ExerciseError(AssertionError):
    """The student's answer is wrong; the message says how."""


def _close(a, b, atol: float = 1e-5) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a, b, atol=atol)


def _diagnose(name: str, answer, reference: torch.Tensor, mistakes: dict[str, torch.Tensor],
              atol: float = 1e-5) -> None:
    """Raise ExerciseError naming the mistake ``answer`` matches, if it is wrong (beyond ``atol``)."""
    if not isinstance(answer, torch.Tensor):
        raise ExerciseError(f"{name}: expected a torch.Tensor, got {type(answer).__name__}")
    if answer.shape != reference.shape:
        raise ExerciseError(f"{name}: expected shape {tuple(reference.shape)}, got "
                            f"{tuple(answer.shape)}. Check how per-sample values broadcast.")
    if answer.dtype != reference.dtype:
        raise ExerciseError(f"{name}: expected dtype {reference.dtype}, got {answer.dtype}. A "
                            "numpy array, a Python float list or torch.tensor(...) without a "
                            "dtype can make float64; keep the inputs' dtype (or .to(x.dtype)).")
    if not torch.isfinite(answer).all():
        raise ExerciseError(f"{name}: your answer contains NaN or infinity where the reference "
                            "is finite: look for a division by zero, the square root or log of a "
                            "negative number, or inputs you assumed to be normalised.")
    if _close(answer, reference, atol):
        return
    for hint, wrong in mistakes.items():
        if _close(answer, wrong, atol):
            raise ExerciseError(f"{name}: not yet. {hint}")
    error = (answer - reference).abs().max().item()
    raise ExerciseError(f"{name}: not yet; the largest difference from the reference is "
                        f"{error:.3g}. Compare your formula with the equation term by term.")


def _passed(name: str, cases: int) -> None:
    if cases < 1:
        raise ValueError(f"cases: expected at least 1 test case, got {cases}; nothing was checked")
    print(f"✅ {name}: correct on all {cases} test cases.")


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


class _NoiseOracle(torch.nn.Module):
    """A "model" whose output is a fixed, known function of (x_t, t), for checking losses."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(0.5))

    def forward(self, x_t, t, cond=None):
        return self.scale * x_t + t.float()[:, None] / 1000


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


def _answer_of(name: str, fn, args: tuple, hint: str):
    """The student's ``fn(*args)``, run on copies of the tensor arguments: an exception becomes
    a hint that ends with ``hint``, and an argument changed in place is refused (chapters 3, 4)."""
    copies = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)
    try:
        answer = fn(*copies)
    except Exception as error:   # the student's error, turned into a hint
        raise ExerciseError(f"{name}: your function raised {type(error).__name__}: {error}. "
                            f"{hint}") from error
    for original, copy in zip(args, copies):
        if isinstance(original, torch.Tensor) and not torch.equal(original, copy):
            raise ExerciseError(f"{name}: your function changed its input in place; compute a "
                                "new tensor instead (no +=, no assignment into an argument).")
    return answer


def _name_the_mistake(name: str, labels: list, answers: list, references: list,
                      mistakes: dict[str, list], atol: float) -> None:
    """Pass if every answer equals its case's reference (within ``atol``). Otherwise name the
    mistake whose wrong answers match the student's in *every* case: one case alone can be
    ambiguous (beta_t and beta_tilde_t, say, agree closely at large t). Chapters 3 and 4."""
    for label, answer, reference in zip(labels, answers, references):
        if not isinstance(answer, torch.Tensor):
            raise ExerciseError(f"{name} ({label}): expected a torch.Tensor, got "
                                f"{type(answer).__name__}")
        if answer.shape != reference.shape:
            raise ExerciseError(f"{name} ({label}): expected shape {tuple(reference.shape)}, got "
                                f"{tuple(answer.shape)}. Check how per-sample values broadcast.")
        if answer.dtype != reference.dtype:
            raise ExerciseError(f"{name} ({label}): expected dtype {reference.dtype}, got "
                                f"{answer.dtype}; keep the inputs' dtype (or .to(x.dtype)).")

    def same(a: torch.Tensor, b: torch.Tensor) -> bool:
        return torch.allclose(a.double(), b.double(), atol=atol, equal_nan=True)

    wrong = [i for i, (a, r) in enumerate(zip(answers, references)) if not same(a, r)]
    if not wrong:
        return
    for hint, candidates in mistakes.items():
        if all(same(a, c) for a, c in zip(answers, candidates)):
            raise ExerciseError(f"{name}: not yet. {hint}")
    first = wrong[0]
    if not torch.isfinite(answers[first]).all():
        raise ExerciseError(f"{name} ({labels[first]}): your answer contains NaN or infinity: "
                            "look for a division by zero, such as 1 - alpha_bar at the clean end "
                            "(schedule.alpha_bars[0] = 1).")
    error = (answers[first].double() - references[first].double()).abs().max().item()
    raise ExerciseError(f"{name} ({labels[first]}): not yet; the largest difference from the "
                        f"reference is {error:.3g}. Compare your formula with the equation term "
                        "by term.")


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


def _slerp_unnormalised(a, b, alpha):
    theta = torch.arccos(((a.flatten() @ b.flatten()) / a.numel()).clamp(-1, 1))
    return (torch.sin(torch.tensor(1 - alpha) * theta) * a
            + torch.sin(torch.tensor(alpha) * theta) * b) / torch.sin(theta)


def _call_student(name: str, fn, *args):
    """Call the student's ``fn`` on copies of ``args``: an exception becomes a hint, and an
    argument changed in place is refused (chapters 7 and 8)."""
    copies = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    try:
        answer = fn(*copies)
    except Exception as error:   # the student's error, turned into a hint
        raise ExerciseError(f"{name}: your function raised {type(error).__name__}: {error}. "
                            "Check the shapes of the arguments, as the exercise gives them.") from error
    for original, copy in zip(args, copies):
        if isinstance(original, torch.Tensor) and not torch.equal(original, copy):
            raise ExerciseError(f"{name}: your function changed its input in place; compute a "
                                "new tensor instead (no +=, no assignment into an argument).")
    return answer


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


def check_score(fn, cases: int = 4) -> None:
    """Chapter 10. ``fn(eps, alpha_bar)`` must return the score -eps / sqrt(1 - alpha_bar)."""
    g = torch.Generator().manual_seed(16)
    for case in range(cases):
        eps = torch.randn(5, 2, generator=g)
        alpha_bar = torch.rand(5, 1, generator=g) * 0.98 + 0.01
        sigma = ((1 - alpha_bar) / alpha_bar).sqrt()
        name = f"check_score (case {case})"
        _diagnose(name, _call_student(name, fn, eps, alpha_bar), -eps / (1 - alpha_bar).sqrt(), {
            "The score points *against* the noise: put a minus sign in front.":
                eps / (1 - alpha_bar).sqrt(),
            "Divide by the standard deviation sqrt(1 - alpha_bar), not the variance.":
                -eps / (1 - alpha_bar),
            "Divide by sqrt(1 - alpha_bar), do not multiply: multiplying goes the other way, "
            "from a score to noise (eps = -sqrt(1 - alpha_bar) · score).":
                -eps * (1 - alpha_bar).sqrt(),
            "That is -eps / sigma with sigma = sqrt((1 - alpha_bar) / alpha_bar): the score of the "
            "scaled x~ = x / sqrt(alpha_bar) of the sigma form. The score of x_t itself divides "
            "by sqrt(1 - alpha_bar) alone.": -eps / sigma,
            "The noise level is 1 - alpha_bar, not alpha_bar.": -eps / alpha_bar.sqrt(),
        })
    _passed("check_score", cases)


def check_flow_pair(fn, cases: int = 3) -> None:
    """Chapter 10. ``fn(x0, noise, t)`` with t of shape (B,) in [0, 1] must return
    (x_t, target): x_t = (1 - t) x0 + t noise and the velocity noise - x0."""
    g = torch.Generator().manual_seed(17)
    for case in range(cases):
        x0, noise = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
        t = torch.rand(6, generator=g)
        name = f"check_flow_pair (case {case})"
        try:
            answer = _call_student(name, fn, x0, noise, t)
        except ExerciseError as error:
            if error.__cause__ is None:            # changed in place: the message says so
                raise
            raise ExerciseError(f"{error} t has shape (B,) and x0 (B, D): use t[:, None] to "
                                "broadcast one t per point.") from error.__cause__
        if not (isinstance(answer, tuple) and len(answer) == 2):
            raise ExerciseError("check_flow_pair: expected a pair (x_t, target), got "
                                f"{type(answer).__name__}")
        tt = t[:, None]
        _diagnose(f"check_flow_pair x_t (case {case})", answer[0], (1 - tt) * x0 + tt * noise, {
            "At t = 0 the path is at the data and at t = 1 at the noise: x_t = (1 - t) x0 + t noise.":
                tt * x0 + (1 - tt) * noise,
            "That is the diffusion mix with square roots; flow matching's path is linear in t.":
                (1 - tt).sqrt() * x0 + tt.sqrt() * noise,
            "The straight path also shrinks the data, (1 - t) x0, so that x_1 is pure noise; "
            "x0 + t noise only adds noise.": x0 + tt * noise,
        })
        _diagnose(f"check_flow_pair target (case {case})", answer[1], noise - x0, {
            "The velocity is d x_t / dt = noise - x0, not x0 - noise.": x0 - noise,
            "The target is the velocity noise - x0, not the noise alone (that is ε-prediction).": noise,
            "The target is the velocity noise - x0, not the data x0 (that is x0-prediction).": x0,
            "The velocity of the straight path is the same at every t: noise - x0, with no factor t.":
                tt * (noise - x0),
            "That is the v of v-prediction, with alpha_bar read as 1 - t; flow matching's velocity "
            "is d x_t / dt = noise - x0.": (1 - tt).sqrt() * noise - tt.sqrt() * x0,
        })
    _passed("check_flow_pair", cases)


def check_distillation_target(fn, cases: int = 4) -> None:
    """Chapter 11. ``fn(x_t, x_next, a_t, s_t, a_next, s_next)`` must return the progressive-
    distillation target (x_next - (s_next / s_t) x_t) / (a_next - (s_next / s_t) a_t)."""
    g = torch.Generator().manual_seed(18)
    for case in range(cases):
        x_t, x_next = torch.randn(5, 2, generator=g), torch.randn(5, 2, generator=g)
        ab_t = torch.rand(5, 1, generator=g) * 0.5 + 0.01
        ab_next = ab_t + (1 - ab_t) * torch.rand(5, 1, generator=g) * 0.9
        a_t, s_t, a_next, s_next = ab_t.sqrt(), (1 - ab_t).sqrt(), ab_next.sqrt(), (1 - ab_next).sqrt()
        ratio = s_next / s_t
        name = f"check_distillation_target (case {case})"
        _diagnose(name, _call_student(name, fn, x_t, x_next, a_t, s_t, a_next, s_next),
                  (x_next - ratio * x_t) / (a_next - ratio * a_t), {
            "The ratio is s_next / s_t (noise levels), not s_t / s_next.":
                (x_next - x_t * s_t / s_next) / (a_next - a_t * s_t / s_next),
            "The denominator is a_next - (s_next / s_t) · a_t: subtract, do not add.":
                (x_next - ratio * x_t) / (a_next + ratio * a_t),
            "The numerator is x_next - (s_next / s_t) · x_t: subtract, do not add.":
                (x_next + ratio * x_t) / (a_next - ratio * a_t),
            "The denominator is a_next - (s_next / s_t) · a_t: x_t holds a_t · x0, so the ratio "
            "multiplies a_t, not 1.": (x_next - ratio * x_t) / (a_next - ratio),
            "Use square roots: a = sqrt(alpha_bar), s = sqrt(1 - alpha_bar); the arguments are "
            "already the roots, do not square them.":
                (x_next - (s_next / s_t) ** 2 * x_t) / (a_next**2 - (s_next / s_t) ** 2 * a_t**2),
            "You swapped x_t and x_next: the student starts at x_t, where the teacher started, "
            "and must land on the teacher's x_next.":
                (x_t - ratio * x_next) / (a_next - ratio * a_t),
            "That is the teacher's landing point x_next itself; the target is the x0 estimate that "
            "makes one DDIM step from x_t land there: solve the step for x0.": x_next,
        }, atol=1e-4)
    _passed("check_distillation_target", cases)


def check_kl(fn, cases: int = 4) -> None:
    """Chapter 9. ``fn(mean, logvar)`` with (B, C, H, W) inputs must return, per image, the KL
    divergence of N(mean, exp(logvar)) from N(0, I), summed over the latent: shape (B,)."""
    g = torch.Generator().manual_seed(18)
    for case in range(cases):
        name = f"check_kl (case {case})"
        mean, logvar = torch.randn(3, 4, 2, 2, generator=g), torch.randn(3, 4, 2, 2, generator=g)
        var = logvar.exp()                                     # s², the posterior variance

        def kl(terms):                                         # (B, C, H, W) -> (B,)
            return 0.5 * terms.flatten(1).sum(dim=1)

        reference = kl(mean.pow(2) + var - 1 - logvar)
        answer = _call_student(name, fn, mean, logvar)
        if isinstance(answer, torch.Tensor) and answer.numel() == 1 and any(
                torch.allclose(answer.reshape(()).to(reference), total, atol=1e-4)
                for total in (reference.sum(), reference.mean())):
            raise ExerciseError(f"{name}: expected shape {tuple(reference.shape)}, one KL per "
                                "image; you also summed (or averaged) over the batch. Flatten "
                                "each image and sum over dim=1 only.")
        _diagnose(name, answer, reference, {
            "Halve the sum: KL = 1/2 Σ (μ² + s² − 1 − log s²).": 2 * reference,
            "logvar is log s², so s² = exp(logvar), not exp(logvar / 2).":
                kl(mean.pow(2) + (0.5 * logvar).exp() - 1 - logvar),
            "logvar is the log-variance log s², not log s: use s² = exp(logvar) and "
            "log s² = logvar, with no factor 2.": kl(mean.pow(2) + (2 * logvar).exp() - 1 - 2 * logvar),
            "Subtract log s² (= logvar); KL is zero at μ = 0, s = 1.":
                kl(mean.pow(2) + var - 1 + logvar),
            "The − 1 is missing: without it the KL of the prior from itself (μ = 0, s = 1) is "
            "not zero.": kl(mean.pow(2) + var - logvar),
            "Include μ²: a mean away from 0 costs KL too.": kl(var - 1 - logvar),
            "Square the mean: the term is μ², not μ (a KL is never negative).":
                kl(mean + var - 1 - logvar),
            "A KL divergence is never negative: the sign of your whole expression is flipped.":
                -reference,
            "You computed KL(N(0, I) ‖ q), the other direction; the VAE's term is "
            "KL(q(z | x) ‖ N(0, I)) = 1/2 Σ (μ² + s² − 1 − log s²).":
                kl((1 + mean.pow(2)) / var - 1 + logvar),
            "Sum over the latent dimensions of each image, do not average them.":
                0.5 * (mean.pow(2) + var - 1 - logvar).flatten(1).mean(dim=1),
        })
    _passed("check_kl", cases)


def check_reparameterise(fn, cases: int = 4) -> None:
    """Chapter 9. ``fn(mean, logvar, noise)`` must return the latent sample
    z = mean + exp(logvar / 2) · noise, through which gradients reach mean and logvar."""
    g = torch.Generator().manual_seed(19)
    for case in range(cases):
        name = f"check_reparameterise (case {case})"
        mean, logvar = torch.randn(3, 4, 2, 2, generator=g), torch.randn(3, 4, 2, 2, generator=g)
        noise = torch.randn(3, 4, 2, 2, generator=g)
        std = (0.5 * logvar).exp()                             # s
        answer = _call_student(name, fn, mean, logvar, noise)
        again = _call_student(name, fn, mean, logvar, noise)
        if isinstance(answer, torch.Tensor) and isinstance(again, torch.Tensor) and \
                answer.shape == again.shape and not torch.equal(answer, again):
            raise ExerciseError(f"{name}: two calls with the same noise gave different z: use "
                                "the noise passed in, do not draw your own (torch.randn_like).")
        _diagnose(name, answer, mean + std * noise, {
            "Scale the noise by the standard deviation exp(logvar / 2), not the variance exp(logvar).":
                mean + logvar.exp() * noise,
            "logvar is a log: take exp(logvar / 2) before multiplying the noise.":
                mean + 0.5 * logvar * noise,
            "exp(-logvar / 2) is 1 / s; the standard deviation is s = exp(logvar / 2).":
                mean + (-0.5 * logvar).exp() * noise,
            "Scale the noise by the standard deviation s = exp(logvar / 2): z = mean + s · noise.":
                mean + noise,
            "Multiply the standard deviation by the noise: z = mean + s · noise, not mean + s.":
                mean + std,
            "Add the mean: z = mean + std · noise.": std * noise,
        })
    mean, logvar = torch.zeros(2, 3, requires_grad=True), torch.zeros(2, 3, requires_grad=True)
    z = fn(mean, logvar, torch.ones(2, 3))
    if not isinstance(z, torch.Tensor) or not z.requires_grad:
        raise ExerciseError("check_reparameterise: no gradient reaches mean and logvar; build z "
                            "from them with torch operations (no .detach(), no torch.no_grad()).")
    _passed("check_reparameterise", cases)
