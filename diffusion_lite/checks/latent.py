"""Checkers for chapter 9, the VAE behind latent diffusion: its KL term and the
reparameterisation trick."""

from __future__ import annotations

import torch

from ._common import Exercise, ExerciseError, _call_student, _diagnose, _passed, checker


@checker
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


@checker
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


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
EXERCISES: dict[str, Exercise] = {}
