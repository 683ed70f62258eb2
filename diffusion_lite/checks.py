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
        t = torch.randint(0, 1000, (16,), generator=g)
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
    for t in [999, 500, 10, 1, 0][:cases]:
        x_t, eps, z = (torch.randn(8, 2, generator=g) for _ in range(3))
        tt = torch.full((8,), t)
        alpha, alpha_bar, beta = (extract(v, tt, x_t) for v in
                                  (schedule.alphas, schedule.alpha_bars, schedule.betas))
        mean = (x_t - beta / (1 - alpha_bar).sqrt() * eps) / alpha.sqrt()
        sigma = beta.sqrt() if t > 0 else torch.zeros_like(beta)
        _diagnose(f"check_ddpm_step (t={t})", fn(schedule, eps.clone(), x_t.clone(), t, z.clone()),
                  mean + sigma * z, {
            "No noise is added at the last step (t = 0): it would blur the final sample.":
                mean + beta.sqrt() * z,
            "sigma_t is the standard deviation sqrt(beta_t), not the variance beta_t.":
                mean + (beta if t > 0 else 0) * z,
            "The noise estimate is scaled by beta_t / sqrt(1 - alpha_bar_t), not by beta_t alone.":
                (x_t - beta * eps) / alpha.sqrt() + sigma * z,
            "Divide by sqrt(alpha_t) (one step), not by sqrt(alpha_bar_t).":
                (x_t - beta / (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt() + sigma * z,
            "That is the predicted x0 itself: one step only removes a little of the noise.":
                predict_x0(schedule, x_t, tt, eps),
        })
    return _passed("check_ddpm_step", min(cases, 5))


def check_timestep_embedding(fn, cases: int = 4) -> None:
    """Chapter 4. ``fn(t, dim)`` must return the (B, dim) sinusoidal embedding: sines of
    t · 10000^(-i / (dim/2)) for i = 0 … dim/2 - 1, followed by the cosines of the same."""
    g = torch.Generator().manual_seed(4)
    for dim in [8, 16, 32, 64][:cases]:
        t = torch.randint(0, 1000, (6,), generator=g)
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
