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
    if _close(answer, reference, atol):
        return
    for hint, wrong in mistakes.items():
        if _close(answer, wrong, atol):
            raise ExerciseError(f"{name}: not yet. {hint}")
    error = (answer - reference).abs().max().item()
    raise ExerciseError(f"{name}: not yet; the largest difference from the reference is "
                        f"{error:.3g}. Compare your formula with the equation term by term.")


def _passed(name: str, cases: int) -> None:
    print(f"✅ {name}: correct on all {cases} test cases.")


def check_add_noise(fn, cases: int = 5) -> None:
    """Chapter 1. ``fn(x0, alpha_bar_t, noise)`` must return a sample of q(x_t | x_0)
    built from the given noise; ``alpha_bar_t`` has shape (B, 1) for x0 of shape (B, D)."""
    g = torch.Generator().manual_seed(1)
    for _ in range(cases):
        x0, noise = torch.randn(8, 2, generator=g), torch.randn(8, 2, generator=g)
        alpha_bar = torch.rand(8, 1, generator=g) * 0.98 + 0.01
        reference = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise
        _diagnose("check_add_noise", fn(x0.clone(), alpha_bar.clone(), noise.clone()), reference, {
            "You used alpha_bar where its square root belongs: the mean is sqrt(alpha_bar) x0.":
                alpha_bar * x0 + (1 - alpha_bar) * noise,
            "The noise scale is sqrt(1 - alpha_bar), not sqrt(alpha_bar)... check which term "
            "gets which coefficient.": (1 - alpha_bar).sqrt() * x0 + alpha_bar.sqrt() * noise,
            "The noise term needs sqrt(1 - alpha_bar); (1 - alpha_bar) alone is the variance.":
                alpha_bar.sqrt() * x0 + (1 - alpha_bar) * noise,
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
                "Square the error: the loss is a mean *squared* error.":
                    (model(x_t, t) - noise).abs().mean(),
            })
        if not answer.requires_grad:
            raise ExerciseError("check_epsilon_loss: the loss carries no gradient; do not "
                                "detach it or compute it under torch.no_grad().")
    return _passed("check_epsilon_loss", cases)


def check_ddpm_step(fn, cases: int = 5) -> None:
    """Chapter 3. ``fn(schedule, eps, x_t, t, z)`` must return x_{t-1} by Algorithm 2 of
    Ho et al. (2020) with sigma_t = sqrt(beta_t), using the given standard noise ``z``;
    ``t`` is a Python int, the same for the whole batch."""
    g = torch.Generator().manual_seed(3)
    schedule = NoiseSchedule.linear(1000)
    for t in [1000, 500, 10, 2, 1][:cases]:
        x_t, eps, z = (torch.randn(8, 2, generator=g) for _ in range(3))
        tt = torch.full((8,), t)
        alpha, alpha_bar, beta = (extract(v, tt, x_t) for v in
                                  (schedule.alphas, schedule.alpha_bars, schedule.betas))
        alpha_bar_prev = extract(schedule.alpha_bars, tt - 1, x_t)
        mean = (x_t - beta / (1 - alpha_bar).sqrt() * eps) / alpha.sqrt()
        sigma = beta.sqrt() if t > 1 else torch.zeros_like(beta)
        _diagnose(f"check_ddpm_step (t={t})", fn(schedule, eps.clone(), x_t.clone(), t, z.clone()),
                  mean + sigma * z, {
            "No noise is added at the last step (t = 1, which returns x_0): it would blur the "
            "final sample.":
                mean + beta.sqrt() * z,
            "sigma_t is the standard deviation sqrt(beta_t), not the variance beta_t.":
                mean + (beta if t > 1 else 0) * z,
            "The noise estimate is scaled by beta_t / sqrt(1 - alpha_bar_t), not by beta_t alone.":
                (x_t - beta * eps) / alpha.sqrt() + sigma * z,
            "Divide by sqrt(alpha_t) (one step), not by sqrt(alpha_bar_t).":
                (x_t - beta / (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt() + sigma * z,
            "That is the predicted x0 itself: one step only removes a little of the noise.":
                predict_x0(schedule, x_t, tt, eps),
            "Off by one: schedule.alpha_bars[t] is alpha_bar_t (index 0 is the clean end, "
            "alpha_bar_0 = 1); you used alpha_bar_{t-1}.":
                (x_t - beta / (1 - alpha_bar_prev).sqrt() * eps) / alpha.sqrt() + sigma * z,
        })
    return _passed("check_ddpm_step", min(cases, 5))


def check_timestep_embedding(fn, cases: int = 4) -> None:
    """Chapter 4. ``fn(t, dim)`` must return the (B, dim) sinusoidal embedding: sines of
    t · 10000^(-i / (dim/2)) for i = 0 … dim/2 - 1, followed by the cosines of the same."""
    g = torch.Generator().manual_seed(4)
    for dim in [8, 16, 32, 64][:cases]:
        t = torch.randint(1, 1001, (6,), generator=g)
        half = dim // 2
        log_period = torch.log(torch.tensor(10_000.0))
        angles = t.float()[:, None] * torch.exp(-log_period * torch.arange(half) / half)[None, :]
        wrong_angles = t.float()[:, None] * torch.exp(-log_period * torch.arange(half) / dim)[None, :]
        _diagnose(f"check_timestep_embedding (dim={dim})", fn(t.clone(), dim),
                  timestep_embedding(t, dim), {
            "Sines first, then cosines: torch.cat([sin, cos], dim=1).":
                torch.cat([torch.cos(angles), torch.sin(angles)], dim=1),
            "Concatenate the sines and cosines; do not interleave them.":
                torch.stack([torch.sin(angles), torch.cos(angles)], dim=2).flatten(1),
            "The exponent is i / (dim / 2), with i counting the dim / 2 frequencies.":
                torch.cat([torch.sin(wrong_angles), torch.cos(wrong_angles)], dim=1),
        }, atol=1e-3)     # sin of angles up to 1000 rad: float32 rounding reaches ~1e-4
    _passed("check_timestep_embedding", cases)


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
        kept = (ema_weight.clone(), weight.clone())
        answer = fn(ema_weight, weight, decay)
        if not (torch.equal(ema_weight, kept[0]) and torch.equal(weight, kept[1])):
            raise ExerciseError("check_ema_update: your function changed its inputs; return a "
                                "new tensor instead of updating one in place.")
        _diagnose(f"check_ema_update (decay={decay})", answer,
                  decay * ema_weight + (1 - decay) * weight, {
            "The old average gets the weight `decay`, the new weights get `1 - decay`: "
            "you have them swapped.": (1 - decay) * ema_weight + decay * weight,
            "Keep the old average too: decay · ema_weight + (1 - decay) · weight.":
                (1 - decay) * weight,
            "The two weights must sum to 1: use 1 - decay for the new weights.":
                decay * ema_weight + weight,
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
        _diagnose(f"check_ddim_step (case {case})",
                  fn(x_t.clone(), eps.clone(), alpha_bar_t.clone(), alpha_bar_prev.clone()),
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
        answer = fn(a.clone(), b.clone(), alpha)
        reference = (torch.sin(torch.tensor(1 - alpha) * theta) * a
                     + torch.sin(torch.tensor(alpha) * theta) * b) / torch.sin(theta)
        mistakes = {   # checked only when the answer is wrong
            "That is a straight line, (1 - alpha)·a + alpha·b; slerp follows the arc.":
                (1 - alpha) * a + alpha * b,
            "The weight of a uses (1 - alpha); of b, alpha: you swapped them.":
                (torch.sin(torch.tensor(alpha) * theta) * a
                 + torch.sin(torch.tensor(1 - alpha) * theta) * b) / torch.sin(theta),
            "theta is the angle between a and b: divide the dot product by both norms before "
            "arccos.": _slerp_unnormalised(a, b, alpha),
        }
        _diagnose(f"check_slerp (alpha={alpha})", answer, reference, mistakes, atol=1e-4)
    _passed("check_slerp", cases)


def _slerp_unnormalised(a, b, alpha):
    theta = torch.arccos(((a.flatten() @ b.flatten()) / a.numel()).clamp(-1, 1))
    return (torch.sin(torch.tensor(1 - alpha) * theta) * a
            + torch.sin(torch.tensor(alpha) * theta) * b) / torch.sin(theta)


def check_guided_eps(fn, cases: int = 4) -> None:
    """Chapter 7. ``fn(eps_cond, eps_uncond, w)`` must return classifier-free guidance,
    eps_uncond + w · (eps_cond - eps_uncond)."""
    g = torch.Generator().manual_seed(9)
    for w in [3.0, 0.0, 1.0, 7.5][:cases]:
        eps_cond, eps_uncond = torch.randn(3, 1, 4, 4, generator=g), torch.randn(3, 1, 4, 4, generator=g)
        mistakes = {   # checked only when the answer is wrong
            "You computed eps_cond + w · (eps_cond - eps_uncond) = (1 + w) · eps_cond - w · eps_uncond, "
            "Ho & Salimans' convention. In this book w = 1 means plain conditional: start from "
            "eps_uncond, eps_uncond + w · (eps_cond - eps_uncond).": eps_cond + w * (eps_cond - eps_uncond),
            "The difference is eps_cond - eps_uncond (towards the class), not the reverse.":
                eps_uncond + w * (eps_uncond - eps_cond),
            "Add the unconditional prediction back: w · (eps_cond - eps_uncond) alone is only the "
            "classifier's direction.": w * (eps_cond - eps_uncond),
        }
        _diagnose(f"check_guided_eps (w={w})", fn(eps_cond.clone(), eps_uncond.clone(), w),
                  eps_uncond + w * (eps_cond - eps_uncond), mistakes)
    _passed("check_guided_eps", cases)


def check_drop_labels(fn) -> None:
    """Chapter 7. ``fn(labels, p, null_class, generator)`` must replace each label by
    ``null_class`` with probability ``p``, independently, and keep the others."""
    g = torch.Generator().manual_seed(10)
    labels = torch.randint(0, 10, (20_000,), generator=g)
    for p in [0.0, 0.1, 0.5, 1.0]:
        kept = labels.clone()
        out = fn(labels, p, 10, torch.Generator().manual_seed(11))
        name = f"check_drop_labels (p={p})"
        if not torch.equal(labels, kept):
            raise ExerciseError(f"{name}: your function changed its input; return a new tensor.")
        if not isinstance(out, torch.Tensor) or out.shape != labels.shape:
            raise ExerciseError(f"{name}: expected a tensor of shape {tuple(labels.shape)}, got "
                                f"{getattr(out, 'shape', type(out).__name__)}")
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
    a = fn(labels, 0.5, 10, torch.Generator().manual_seed(12))
    b = fn(labels, 0.5, 10, torch.Generator().manual_seed(13))
    if torch.equal(a == 10, b == 10):
        raise ExerciseError("check_drop_labels: two different generators dropped the same labels; "
                            "draw the random numbers with the generator you are given.")
    by_class = torch.stack([(a[labels == c] == 10).float().mean() for c in range(10)])
    if (by_class - 0.5).abs().max() > 0.1:
        raise ExerciseError("check_drop_labels: some classes are dropped far more often than "
                            "others; drop each label independently of its value.")
    _passed("check_drop_labels", 5)


def check_cross_attention(fn, cases: int = 3) -> None:
    """Chapter 8. ``fn(q, k, v)`` with q (B, N, d) and k, v (B, L, d) must return
    softmax(q kᵀ / sqrt(d)) v, shape (B, N, d): each query's weights over the L keys sum to 1."""
    g = torch.Generator().manual_seed(14)
    for case in range(cases):
        d = [4, 8, 16][case % 3]
        q = torch.randn(2, 6, d, generator=g)
        k, v = torch.randn(2, 5, d, generator=g), torch.randn(2, 5, d, generator=g)
        scores = q @ k.transpose(1, 2)
        _diagnose(f"check_cross_attention (case {case})", fn(q.clone(), k.clone(), v.clone()),
                  torch.softmax(scores / d**0.5, dim=-1) @ v, {
            "Scale the scores by 1 / sqrt(d) before the softmax.": torch.softmax(scores, dim=-1) @ v,
            "Divide by sqrt(d), not d.": torch.softmax(scores / d, dim=-1) @ v,
            "Take the softmax over the keys (the words, last axis), so that each pixel's weights "
            "sum to 1.": torch.softmax(scores / d**0.5, dim=1) @ v,
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
    answer = fn(described.clone(), asked.clone())
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        answer = answer.item()
    if not isinstance(answer, (float, int)):
        raise ExerciseError(f"check_prompt_accuracy: expected a number, got {type(answer).__name__}")
    reference = (described == asked).all(dim=1).float().mean().item()
    per_attribute = (described == asked).float().mean().item()
    if abs(answer - reference) <= 1e-6:
        return _passed("check_prompt_accuracy", 1)
    if abs(answer - per_attribute) <= 1e-6:
        raise ExerciseError("check_prompt_accuracy: not yet. You averaged over attributes; a "
                            "sample counts only if all three are right: .all(dim=1) first.")
    if abs(answer - (described == asked).any(dim=1).float().mean().item()) <= 1e-6:
        raise ExerciseError("check_prompt_accuracy: not yet. A sample counts if *all* attributes "
                            "agree (.all), not any of them.")
    raise ExerciseError(f"check_prompt_accuracy: expected {reference:.3f}, got {answer:.3f}")


def check_score(fn, cases: int = 4) -> None:
    """Chapter 10. ``fn(eps, alpha_bar)`` must return the score -eps / sqrt(1 - alpha_bar)."""
    g = torch.Generator().manual_seed(16)
    for case in range(cases):
        eps = torch.randn(5, 2, generator=g)
        alpha_bar = torch.rand(5, 1, generator=g) * 0.98 + 0.01
        _diagnose(f"check_score (case {case})", fn(eps.clone(), alpha_bar.clone()),
                  -eps / (1 - alpha_bar).sqrt(), {
            "The score points *against* the noise: put a minus sign in front.":
                eps / (1 - alpha_bar).sqrt(),
            "Divide by the standard deviation sqrt(1 - alpha_bar), not the variance.":
                -eps / (1 - alpha_bar),
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
        answer = fn(x0.clone(), noise.clone(), t.clone())
        if not (isinstance(answer, tuple) and len(answer) == 2):
            raise ExerciseError("check_flow_pair: expected a pair (x_t, target), got "
                                f"{type(answer).__name__}")
        tt = t[:, None]
        _diagnose(f"check_flow_pair x_t (case {case})", answer[0], (1 - tt) * x0 + tt * noise, {
            "At t = 0 the path is at the data and at t = 1 at the noise: x_t = (1 - t) x0 + t noise.":
                tt * x0 + (1 - tt) * noise,
            "That is the diffusion mix with square roots; flow matching's path is linear in t.":
                (1 - tt).sqrt() * x0 + tt.sqrt() * noise,
        })
        _diagnose(f"check_flow_pair target (case {case})", answer[1], noise - x0, {
            "The velocity is d x_t / dt = noise - x0, not x0 - noise.": x0 - noise,
            "The target is the velocity noise - x0, not the noise alone (that is ε-prediction).": noise,
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
        _diagnose(f"check_distillation_target (case {case})",
                  fn(x_t.clone(), x_next.clone(), a_t, s_t, a_next, s_next),
                  (x_next - ratio * x_t) / (a_next - ratio * a_t), {
            "The ratio is s_next / s_t (noise levels), not s_t / s_next.":
                (x_next - x_t * s_t / s_next) / (a_next - a_t * s_t / s_next),
            "The denominator is a_next - (s_next / s_t) · a_t: subtract, do not add.":
                (x_next - ratio * x_t) / (a_next + ratio * a_t),
            "Use square roots: a = sqrt(alpha_bar), s = sqrt(1 - alpha_bar); the arguments are "
            "already the roots, do not square them.":
                (x_next - (s_next / s_t) ** 2 * x_t) / (a_next**2 - (s_next / s_t) ** 2 * a_t**2),
        }, atol=1e-4)
    _passed("check_distillation_target", cases)


def check_kl(fn, cases: int = 4) -> None:
    """Chapter 9. ``fn(mean, logvar)`` with (B, C, H, W) inputs must return, per image, the KL
    divergence of N(mean, exp(logvar)) from N(0, I), summed over the latent: shape (B,)."""
    g = torch.Generator().manual_seed(18)
    for case in range(cases):
        mean, logvar = torch.randn(3, 4, 2, 2, generator=g), torch.randn(3, 4, 2, 2, generator=g)
        terms = mean.pow(2) + logvar.exp() - 1 - logvar
        _diagnose(f"check_kl (case {case})", fn(mean.clone(), logvar.clone()),
                  0.5 * terms.flatten(1).sum(dim=1), {
            "Halve the sum: KL = 1/2 Σ (μ² + σ² − 1 − log σ²).": terms.flatten(1).sum(dim=1),
            "logvar is log σ², so σ² = exp(logvar), not exp(logvar / 2).":
                0.5 * (mean.pow(2) + (0.5 * logvar).exp() - 1 - logvar).flatten(1).sum(dim=1),
            "Subtract log σ² (= logvar); KL is zero at μ = 0, σ = 1.":
                0.5 * (mean.pow(2) + logvar.exp() - 1 + logvar).flatten(1).sum(dim=1),
            "Sum over the latent dimensions of each image, do not average them.":
                0.5 * terms.flatten(1).mean(dim=1),
        })
    _passed("check_kl", cases)


def check_reparameterise(fn, cases: int = 4) -> None:
    """Chapter 9. ``fn(mean, logvar, noise)`` must return the latent sample
    z = mean + exp(logvar / 2) · noise, through which gradients reach mean and logvar."""
    g = torch.Generator().manual_seed(19)
    for case in range(cases):
        mean, logvar = torch.randn(3, 4, 2, 2, generator=g), torch.randn(3, 4, 2, 2, generator=g)
        noise = torch.randn(3, 4, 2, 2, generator=g)
        _diagnose(f"check_reparameterise (case {case})", fn(mean.clone(), logvar.clone(), noise.clone()),
                  mean + (0.5 * logvar).exp() * noise, {
            "Scale the noise by the standard deviation exp(logvar / 2), not the variance exp(logvar).":
                mean + logvar.exp() * noise,
            "logvar is a log: take exp(logvar / 2) before multiplying the noise.":
                mean + 0.5 * logvar * noise,
            "Add the mean: z = mean + std · noise.": (0.5 * logvar).exp() * noise,
        })
    mean, logvar = torch.zeros(2, 3, requires_grad=True), torch.zeros(2, 3, requires_grad=True)
    z = fn(mean, logvar, torch.ones(2, 3))
    if not isinstance(z, torch.Tensor) or not z.requires_grad:
        raise ExerciseError("check_reparameterise: no gradient reaches mean and logvar; build z "
                            "from them with torch operations (no .detach(), no torch.no_grad()).")
    _passed("check_reparameterise", cases)
