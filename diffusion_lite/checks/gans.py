"""Checkers for chapter 12: the non-saturating generator loss and the R1 gradient penalty."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._common import Exercise, ExerciseError, _call_student, _diagnose, _passed, checker


def _as_scalar(name: str, answer) -> torch.Tensor:
    if not isinstance(answer, torch.Tensor):
        raise ExerciseError(f"{name}: expected a torch.Tensor (a scalar loss), got {type(answer).__name__}")
    if answer.numel() != 1:
        raise ExerciseError(f"{name}: expected one number (a scalar), got shape {tuple(answer.shape)}; "
                            "average over the batch with .mean().")
    return answer.reshape(())


@checker
def check_generator_loss(fn, cases: int = 4) -> None:
    """Chapter 12. ``fn(fake_logits)`` with logits of shape (B,) must return the
    non-saturating generator loss -mean log sigmoid(logit) = mean softplus(-logit), computed
    stably for confidently rejected fakes (very negative logits) and differentiable in them."""
    g = torch.Generator().manual_seed(21)
    for case in range(cases):
        logits = torch.randn(7, generator=g) * 3
        if case == cases - 1:     # fakes the discriminator rejects with near certainty
            logits = torch.cat([logits[:5], torch.tensor([-120.0, -200.0])])
        name = f"check_generator_loss (case {case})"
        leaf = logits.clone().requires_grad_(True)
        answer = _as_scalar(name, _call_student(name, fn, leaf))
        if case == cases - 1 and not torch.isfinite(answer):
            raise ExerciseError(f"{name}: your loss is {answer.item()} for logits as low as -200, "
                                "where the discriminator rejects the fakes with near certainty: "
                                "log(sigmoid(logit)) underflows to log(0). Work in logits: "
                                "-log sigmoid(l) = softplus(-l) (torch.nn.functional.softplus).")
        d_fake = torch.sigmoid(logits)
        _diagnose(name, answer.detach(), F.softplus(-logits).mean(), {
            "That is the saturating (minimax) loss mean log(1 - D(G(z))): it is flat where the "
            "discriminator rejects the fakes, so a poor generator learns nothing. Use "
            "-mean log D(G(z)) instead.": torch.log1p(-d_fake).mean(),
            "Minimise -log D(G(z)): the generator wants D to call its samples real, so put a "
            "minus sign in front of mean log D.": F.logsigmoid(logits).mean(),
            "That is -mean log(1 - D(G(z))), the discriminator's term for fakes: it pushes the "
            "fakes to look *fake*.": F.softplus(logits).mean(),
            "Average over the batch; do not sum.": F.softplus(-logits).sum(),
            **{f"Your loss is wrong where the discriminator rejects the fakes with near certainty "
               f"(logits of -120 and -200): clamping the probability at {eps:g} hides the "
               "underflow of sigmoid instead of avoiding it. Work in logits: -log sigmoid(l) = "
               "softplus(-l).": -torch.log(d_fake.clamp(min=eps)).mean()
               for eps in (1e-6, 1e-7, 1e-8, 1e-10, 1e-12)},
        })
        if not answer.requires_grad:
            raise ExerciseError(f"{name}: your loss carries no gradient back to the logits (a "
                                ".detach(), .item() or torch.no_grad()?), so the generator "
                                "could not learn from it.")
    _passed("check_generator_loss", cases)


class _Quadratic(nn.Module):
    """D(x) = x^T A x / 2 + b^T x: its gradient A x + b is known exactly."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor):
        super().__init__()
        self.a, self.b = nn.Parameter(a), nn.Parameter(b)

    def forward(self, x):
        return 0.5 * ((x @ self.a) * x).sum(dim=1) + x @ self.b


@checker
def check_r1_penalty(fn, cases: int = 3) -> None:
    """Chapter 12. ``fn(discriminator, real)`` with real points (B, D) and a discriminator
    returning one logit per point, shape (B,), must return the mean over the batch of
    ||∇_x ℓ(x)||² (without the factor γ/2, which ``train_gan`` applies), differentiable in the
    discriminator's weights, without changing ``real``."""
    g = torch.Generator().manual_seed(22)
    for case in range(cases):
        a = torch.randn(3, 3, generator=g)
        discriminator = _Quadratic(a + a.T, torch.randn(3, generator=g))
        real = torch.randn(6, 3, generator=g)                 # 3-D points: a coordinate mean
        name = f"check_r1_penalty (case {case})"              # differs from a factor 1/2
        given = real.clone()
        try:
            answer = fn(discriminator, given)
        except RuntimeError as error:
            if "does not require grad" in str(error):
                raise ExerciseError(f"{name}: torch cannot differentiate with respect to the real "
                                    "points: make a copy that requires it, x = real.detach()"
                                    ".requires_grad_(True), and differentiate with respect to "
                                    "x.") from error
            if "only for scalar outputs" in str(error):
                raise ExerciseError(f"{name}: torch.autograd.grad needs one number to "
                                    "differentiate, and the discriminator gives one logit per point "
                                    "(shape (B,)): differentiate their sum, discriminator(x).sum() "
                                    "(each point's logit depends on that point alone).") from error
            raise ExerciseError(f"{name}: your function raised RuntimeError: {error}") from error
        if given.requires_grad or not torch.equal(given, real):
            raise ExerciseError(f"{name}: your function changed the caller's tensor `real` (in "
                                "place, e.g. real.requires_grad_()); work on a copy: "
                                "x = real.detach().requires_grad_(True).")
        answer = _as_scalar(name, answer)
        with torch.no_grad():
            grad = real @ discriminator.a + discriminator.b                  # (B, 3)
            logits = discriminator(real)
            slope_of_probability = torch.sigmoid(logits)[:, None] * (1 - torch.sigmoid(logits))[:, None] * grad
        norms2 = grad.pow(2).sum(dim=1)
        _diagnose(name, answer.detach(), norms2.mean(), {
            "Square the norm: R1 is ||∇ℓ||², not ||∇ℓ||.": grad.norm(dim=1).mean(),
            "Sum the squares over the coordinates of each point, then average over the batch; "
            "you averaged over the coordinates too.": grad.pow(2).mean(),
            "Leave out the factor γ/2: this function returns the mean squared gradient norm, "
            "and train_gan multiplies it by γ/2.": 0.5 * norms2.mean(),
            "Average over the batch; do not sum.": norms2.sum(),
            "That is the gradient penalty of WGAN-GP, (||∇ℓ|| - 1)²; R1 pushes the gradient "
            "on real data to zero, not to one.": (grad.norm(dim=1) - 1).pow(2).mean(),
            "Take the gradient of the logit ℓ, not of the probability sigmoid(ℓ).":
                slope_of_probability.pow(2).sum(dim=1).mean(),
            "Sum the logits before torch.autograd.grad (each point's logit depends only on that "
            "point, so the gradient of the sum is every point's own gradient); a mean divides "
            "every gradient by the batch size.": (grad / len(real)).pow(2).sum(dim=1).mean(),
            "Take the gradient with respect to the input points, not with respect to the "
            "discriminator's output values: R1 is the squared slope of ℓ at real data.":
                logits.pow(2).mean(),
        })
        if not answer.requires_grad:
            raise ExerciseError(f"{name}: your penalty carries no gradient to the discriminator's "
                                "weights, so adding it to the loss would change nothing: pass "
                                "create_graph=True to torch.autograd.grad, and return the result "
                                "without .detach(), .item() or torch.no_grad().")
        (weight_grad,) = torch.autograd.grad(answer, discriminator.b, allow_unused=True)
        if weight_grad is None:
            raise ExerciseError(f"{name}: your penalty does not depend on the discriminator's "
                                "weights; compute the gradient of the discriminator's output at "
                                "the real points with create_graph=True.")
    _passed("check_r1_penalty", cases)


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
EXERCISES: dict[str, Exercise] = {}
