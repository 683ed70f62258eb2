"""Checkers for chapter 12: the non-saturating generator loss and the R1 gradient penalty."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._common import ExerciseError, _call_student, _diagnose, _passed


def _as_scalar(name: str, answer) -> torch.Tensor:
    if not isinstance(answer, torch.Tensor):
        raise ExerciseError(f"{name}: expected a torch.Tensor (a scalar loss), got {type(answer).__name__}")
    if answer.numel() != 1:
        raise ExerciseError(f"{name}: expected one number (a scalar), got shape {tuple(answer.shape)}; "
                            "average over the batch with .mean().")
    return answer.reshape(())


def check_generator_loss(fn, cases: int = 4) -> None:
    """Chapter 12. ``fn(fake_logits)`` with logits of shape (B,) must return the
    non-saturating generator loss -mean log sigmoid(logit) = mean softplus(-logit)."""
    g = torch.Generator().manual_seed(21)
    for case in range(cases):
        logits = torch.randn(7, generator=g) * 3
        name = f"check_generator_loss (case {case})"
        answer = _as_scalar(name, _call_student(name, fn, logits))
        d_fake = torch.sigmoid(logits)
        _diagnose(name, answer, F.softplus(-logits).mean(), {
            "That is the saturating (minimax) loss mean log(1 - D(G(z))): it is flat where the "
            "discriminator rejects the fakes, so a poor generator learns nothing. Use "
            "-mean log D(G(z)) instead.": torch.log1p(-d_fake).mean(),
            "Minimise -log D(G(z)): the generator wants D to call its samples real, so put a "
            "minus sign in front of mean log D.": F.logsigmoid(logits).mean(),
            "That is -mean log(1 - D(G(z))), the discriminator's term for fakes: it pushes the "
            "fakes to look *fake*.": F.softplus(logits).mean(),
            "The inputs are logits, not probabilities: D(G(z)) = sigmoid(logit), so the loss is "
            "-mean log sigmoid(logit) (torch.nn.functional.softplus(-logits).mean()).":
                -torch.log(logits.clamp(min=1e-12)).mean(),
            "Average over the batch; do not sum.": F.softplus(-logits).sum(),
        })
    _passed("check_generator_loss", cases)


class _Quadratic(nn.Module):
    """D(x) = x^T A x / 2 + b^T x: its gradient A x + b is known exactly."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor):
        super().__init__()
        self.a, self.b = nn.Parameter(a), nn.Parameter(b)

    def forward(self, x):
        return 0.5 * ((x @ self.a) * x).sum(dim=1) + x @ self.b


def check_r1_penalty(fn, cases: int = 3) -> None:
    """Chapter 12. ``fn(discriminator, real)`` with real points (B, D) must return
    mean over the batch of ||∇_x D(x)||², differentiable in the discriminator's weights."""
    g = torch.Generator().manual_seed(22)
    for case in range(cases):
        a = torch.randn(2, 2, generator=g)
        discriminator = _Quadratic(a + a.T, torch.randn(2, generator=g))
        real = torch.randn(6, 2, generator=g)
        name = f"check_r1_penalty (case {case})"
        answer = _as_scalar(name, _call_student(name, fn, discriminator, real))
        with torch.no_grad():
            grad = real @ discriminator.a + discriminator.b                  # (B, 2)
        norms2 = grad.pow(2).sum(dim=1)
        _diagnose(name, answer.detach(), norms2.mean(), {
            "Square the norm: R1 is ||∇D||², not ||∇D||.": grad.norm(dim=1).mean(),
            "Sum the squares over the coordinates of each point, then average over the batch; "
            "you averaged over the coordinates too.": grad.pow(2).mean(),
            "Average over the batch; do not sum.": norms2.sum(),
            "That is the gradient penalty of WGAN-GP, (||∇D|| - 1)²; R1 pushes the gradient "
            "on real data to zero, not to one.": (grad.norm(dim=1) - 1).pow(2).mean(),
            "Take the gradient with respect to the input points, not with respect to the "
            "discriminator's output values: R1 is the squared slope of D at real data.":
                discriminator(real).detach().pow(2).mean(),
        })
        if not answer.requires_grad:
            raise ExerciseError(f"{name}: your penalty carries no gradient to the discriminator's "
                                "weights, so adding it to the loss would change nothing. Pass "
                                "create_graph=True to torch.autograd.grad.")
        (weight_grad,) = torch.autograd.grad(answer, discriminator.b, allow_unused=True)
        if weight_grad is None:
            raise ExerciseError(f"{name}: your penalty does not depend on the discriminator's "
                                "weights; compute the gradient of the discriminator's output at "
                                "the real points with create_graph=True.")
    _passed("check_r1_penalty", cases)
