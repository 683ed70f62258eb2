"""Checkers for chapter 12: the non-saturating generator loss, the R1 gradient penalty, a GAN
training step with a planted bug to fix, and the slopes that make the minimax loss stall."""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from ._common import (
    NOT_IMPLEMENTED,
    Exercise,
    ExerciseError,
    Mistake,
    _answer_of,
    _call_student,
    _diagnose,
    _passed,
    checker,
)


def _as_scalar(name: str, answer) -> torch.Tensor:
    if not isinstance(answer, torch.Tensor):
        raise ExerciseError(f"{name}: expected a torch.Tensor (a scalar loss), got {type(answer).__name__}")
    if answer.numel() != 1:
        raise ExerciseError(f"{name}: expected one number (a scalar), got shape {tuple(answer.shape)}; "
                            "average over the batch with .mean().")
    return answer.reshape(())


@checker(forbid=("generator_loss",))
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


def _penalty_of(name: str, fn, discriminator: nn.Module, real: torch.Tensor):
    """The student's ``fn(discriminator, real)``, run by ``_answer_of`` on a copy of ``real``
    (an exception becomes a hint, a changed value is refused), also refusing a copy turned into
    one that requires grad: the caller's tensor would have been changed."""
    given = []

    def spy(d, x):
        given.append(x)
        return fn(d, x)

    try:
        answer = _answer_of(name, spy, (discriminator, real),
                            "discriminator(x) returns one logit per point, shape (B,), for x (B, d).")
    except ExerciseError as error:
        cause = str(error.__cause__) if isinstance(error.__cause__, RuntimeError) else ""
        if "does not require grad" in cause:
            raise ExerciseError(f"{name}: torch cannot differentiate with respect to the real "
                                "points: make a copy that requires it, x = real.detach()"
                                ".requires_grad_(True), and differentiate with respect to "
                                "x.") from error.__cause__
        if "only for scalar outputs" in cause:
            raise ExerciseError(f"{name}: torch.autograd.grad needs one number to "
                                "differentiate, and the discriminator gives one logit per point "
                                "(shape (B,)): differentiate their sum, discriminator(x).sum() "
                                "(each point's logit depends on that point alone).") from error.__cause__
        raise
    if given and given[0].requires_grad:
        raise ExerciseError(f"{name}: your function changed the caller's tensor `real` (in "
                            "place, e.g. real.requires_grad_()); work on a copy: "
                            "x = real.detach().requires_grad_(True).")
    return answer


@checker(forbid=("r1_penalty",))
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
        answer = _as_scalar(name, _penalty_of(name, fn, discriminator, real))
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


def _gan_step(g_net, d_net, opt_g, opt_d, real, z_d, z_g, r1_gamma, *, slip: str = ""):
    """One round of ``train_gan``'s loop, or with ``slip`` one typical mistake in it."""
    from ..gan import discriminator_loss, generator_loss, r1_penalty

    def generator_step():
        logits = d_net(g_net(z_g if slip != "old noise" else z_d))
        g_loss = -F.softplus(logits).mean() if slip == "minimax" else generator_loss(logits)
        if slip not in ("no zero_grad", "leak"):
            opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        return g_loss

    if slip == "leak":                                   # the planted bug: one zero_grad, no detach
        opt_d.zero_grad(), opt_g.zero_grad()
    if slip == "generator first":
        g_loss = generator_step()
    fake = g_net(z_d) if slip == "leak" else g_net(z_d).detach()
    d_loss = discriminator_loss(d_net(real), d_net(fake))
    weight = {"gamma": r1_gamma, "no r1": 0.0}.get(slip, r1_gamma / 2)
    if slip not in ("leak", "no zero_grad d"):
        opt_d.zero_grad()
    total = d_loss + weight * r1_penalty(d_net, real)
    total.backward()
    opt_d.step()
    if slip != "generator first":
        g_loss = generator_step()
    return (total if slip == "r1 returned" else d_loss).item(), g_loss.item()


def _gan_outcome(name: str, step, seed: int, steps: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Every weight of a small GAN after ``steps`` calls of ``step``, and the losses returned
    (d_loss, g_loss, d_loss, ...)."""
    from ..gan import Discriminator, Generator

    torch.manual_seed(seed)
    g_net, d_net = Generator(latent_dim=4, hidden=16, num_layers=2), Discriminator(hidden=16, num_layers=2)
    opt_g = torch.optim.Adam(g_net.parameters(), lr=1e-2, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d_net.parameters(), lr=1e-2, betas=(0.5, 0.999))
    g = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        real, z_d, z_g = torch.randn(32, 2, generator=g) + 1, torch.randn(32, 4, generator=g), \
            torch.randn(32, 4, generator=g)
        answer = _answer_of(name, step, (g_net, d_net, opt_g, opt_d, real, z_d, z_g, 1.0),
                            "g_net(z) gives points (B, 2), d_net(x) one logit per point (B,).")
        if (not isinstance(answer, tuple) or len(answer) != 2
                or not all(type(v) is float for v in answer)):
            raise ExerciseError(f"{name}: expected a pair of Python floats (d_loss, g_loss), "
                                f"as .item() gives, got {type(answer).__name__} {answer!r:.80}")
        losses += answer
    weights = [p.detach().reshape(-1) for net in (g_net, d_net) for p in net.parameters()]
    return torch.cat(weights), torch.tensor(losses)


@checker
def check_gan_step(fn, cases: int = 2) -> None:
    """Chapter 12. ``fn(g_net, d_net, opt_g, opt_d, real, z_d, z_g, r1_gamma)`` must do one round
    of ``train_gan``: one discriminator step (cross-entropy on ``real`` and on fakes from
    ``z_d``, plus (γ/2)·R1) that changes nothing of the generator, then one generator step
    (non-saturating loss on fresh fakes from ``z_g``), and return both losses as floats. Run
    three times on a small GAN, its weights must end where ``train_gan``'s would."""
    slips = {
        "The planted bug is still there: which weights does d_loss.backward() reach?": "leak",
        "Zero the generator's gradients before its backward pass: without opt_g.zero_grad() they "
        "accumulate over the steps.": "no zero_grad",
        "Zero the discriminator's gradients before its backward pass: without opt_d.zero_grad() "
        "its step also follows the gradients left in it by the previous round (the generator's "
        "loss.backward() reaches the discriminator's weights too).": "no zero_grad d",
        "Make the generator's fakes from z_g, fresh noise, not again from the discriminator's "
        "z_d.": "old noise",
        "Train the discriminator first, then the generator against the updated discriminator.":
            "generator first",
        "The R1 penalty is weighted by γ/2, not by γ.": "gamma",
        "Add the R1 penalty (weighted by γ/2) to the discriminator's loss.": "no r1",
        "That generator loss is the saturating minimax one, E log(1 - D(G(z))); use the "
        "non-saturating -E log D(G(z)).": "minimax",
        "Your weights end where train_gan's do, but the d_loss you return includes the R1 "
        "penalty: return the cross-entropy d_loss alone (the penalty is a regulariser added for "
        "the backward pass, not part of the loss train_gan records).": "r1 returned",
    }

    def close(a, b):
        return torch.allclose(a, b, atol=1e-4)

    for case in range(cases):
        name = f"check_gan_step (case {case})"
        weights, losses = _gan_outcome(name, fn, seed=40 + case)
        right_weights, right_losses = _gan_outcome(name, _gan_step, seed=40 + case)
        if not torch.isfinite(weights).all() or not torch.isfinite(losses).all():
            raise ExerciseError(f"{name}: the weights or losses became NaN or infinite.")
        if close(weights, right_weights) and close(losses, right_losses):
            continue
        for hint, slip in slips.items():
            wrong_weights, wrong_losses = _gan_outcome(name, functools.partial(_gan_step, slip=slip),
                                                       seed=40 + case)
            if close(weights, wrong_weights) and close(losses, wrong_losses):
                raise ExerciseError(f"{name}: not yet. {hint}")
        if close(weights, right_weights):
            which = ["d_loss", "g_loss"][int((losses - right_losses).abs().argmax()) % 2]
            raise ExerciseError(f"{name}: not yet. Your weights end where train_gan's do, but the "
                                f"{which} you return differs: return the loss that was minimised, "
                                "as a float (.item()), with nothing added to it.")
        if close(losses, right_losses):
            raise ExerciseError(f"{name}: not yet. The losses you return are right, but the weights "
                                "end elsewhere after three steps: look at what each backward pass "
                                "reaches, and where the gradients are zeroed.")
        raise ExerciseError(f"{name}: not yet. Both the losses you return and the weights differ "
                            "from train_gan's, from the first round on: go through the order of "
                            "the two steps, what each loss is, and where the gradients are zeroed.")
    _passed("check_gan_step", cases)


def check_saturation(minimax_slope, non_saturating_slope, d_fake: float = 0.01) -> None:
    """Chapter 12. The slopes with respect to the logit ℓ of the minimax generator loss
    log(1 - sigmoid(ℓ)) and of the non-saturating one -log sigmoid(ℓ), where the discriminator
    gives a fake D = sigmoid(ℓ) = ``d_fake``; measured here with autograd."""
    __tracebackhide__ = True        # noqa: F841 (read by IPython and pytest)
    if not 0 < d_fake < 1:
        raise ValueError(f"d_fake: expected a probability strictly between 0 and 1, got {d_fake}")
    if minimax_slope is None or non_saturating_slope is None:
        raise ExerciseError(f"check_saturation: {NOT_IMPLEMENTED}") from None
    logit = torch.logit(torch.tensor(d_fake, dtype=torch.float64)).requires_grad_(True)
    slopes = [torch.autograd.grad(f(logit), logit)[0].item()
              for f in (lambda v: torch.log1p(-torch.sigmoid(v)), lambda v: -F.logsigmoid(v))]
    values = [math.log1p(-d_fake), -math.log(d_fake)]
    per_d = [-1 / (1 - d_fake), -1 / d_fake]                           # slopes in D, not in ℓ
    for label, given, slope, value, in_d, other in zip(
            ("minimax_slope", "non_saturating_slope"), (minimax_slope, non_saturating_slope),
            slopes, values, per_d, slopes[::-1]):
        if isinstance(given, bool) or not isinstance(given, (int, float)):
            raise ExerciseError(f"check_saturation: {label} must be a number (a Python float), "
                                f"got {type(given).__name__} {given!r:.60}; use .item() on a "
                                "tensor.") from None

        def near(a, b):
            return abs(a - b) <= 2e-3 * abs(b) + 1e-6

        if near(given, slope):
            continue
        if near(given, -slope):
            hint = "the sign is wrong: both slopes are negative (raising ℓ lowers both losses)."
        elif near(given, other):
            hint = "that is the other loss's slope: you swapped the two."
        elif near(given, value):
            hint = "that is the loss's value at that D, not its slope (derivative) in ℓ."
        elif near(given, in_d):
            hint = ("that is the slope with respect to D; take it with respect to the logit ℓ: "
                    "dD/dℓ = D(1 - D).")
        elif near(abs(given), d_fake * (1 - d_fake)):
            hint = ("that is ±dD/dℓ = D(1 - D), the slope of D itself, without the log: by the "
                    "chain rule, multiply it by the log's derivative, -1/(1 - D) for "
                    "log(1 - D) and -1/D for -log D.")
        else:
            hint = "write D = sigmoid(ℓ) and use dD/dℓ = D(1 - D)."
        raise ExerciseError(f"check_saturation: {label} = {given!r} is not the slope at "
                            f"D = {d_fake}: {hint}") from None
    print(f"✅ check_saturation: at D = {d_fake} the minimax loss has slope {slopes[0]:.4f} and the "
          f"non-saturating one {slopes[1]:.4f}, {slopes[1] / slopes[0]:.0f} times steeper.")


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
def _g_loss(body: str) -> str:
    return "def my_generator_loss(fake_logits):\n    F = torch.nn.functional\n" + body


def _r1(body: str) -> str:
    return ("def my_r1_penalty(discriminator, real):\n"
            "    x = real.detach().requires_grad_(True)\n" + body)


_GRAD = "    (grad,) = torch.autograd.grad(discriminator(x).sum(), x, create_graph=True)\n"
_STEP_SETUP = "from diffusion_lite.gan import discriminator_loss, generator_loss, r1_penalty\n"


def _step(discriminator_part: str, generator_part: str) -> str:
    return ("def my_gan_step(g_net, d_net, opt_g, opt_d, real, z_d, z_g, r1_gamma):\n"
            + discriminator_part + "    opt_d.step()\n" + generator_part
            + "    loss_g.backward()\n    opt_g.step()\n    return loss_d.item(), loss_g.item()\n")


_D_PART = ("    fakes = g_net(z_d).detach()\n"
           "    loss_d = discriminator_loss(d_net(real), d_net(fakes))\n    opt_d.zero_grad()\n"
           "    (loss_d + r1_gamma / 2 * r1_penalty(d_net, real)).backward()\n")
_G_PART = "    loss_g = generator_loss(d_net(g_net(z_g)))\n    opt_g.zero_grad()\n"


def _slopes(minimax: str, non_saturating: str) -> str:
    return f"minimax_slope = {minimax}\nnon_saturating_slope = {non_saturating}\n"


EXERCISES: dict[str, Exercise] = {
    "ex-gan-generator-loss": Exercise("transcription", reference="diffusion_lite.gan.generator_loss",
                                      mistakes=(
        Mistake("saturating \\(minimax\\)", _g_loss("    return torch.log1p(-fake_logits.sigmoid()).mean()\n")),
        Mistake("minus sign", _g_loss("    return F.logsigmoid(fake_logits).mean()\n")),
        Mistake("look \\*fake\\*", _g_loss("    return F.softplus(fake_logits).mean()\n")),
        Mistake("hides the underflow", _g_loss("    return -fake_logits.sigmoid().clamp(min=1e-8).log().mean()\n")),
        Mistake("underflows to log\\(0\\)", _g_loss("    return -fake_logits.sigmoid().log().mean()\n")),
        Mistake("no gradient", _g_loss("    return F.softplus(-fake_logits.detach()).mean()\n")),
        Mistake("do not sum", _g_loss("    return F.softplus(-fake_logits).sum()\n")),
        Mistake("scalar", _g_loss("    return F.softplus(-fake_logits)\n")),
        Mistake("in place", _g_loss("    return fake_logits.mul_(-1).exp().log1p().mean()\n")),
    )),
    "ex-gan-r1": Exercise("transcription", reference="diffusion_lite.gan.r1_penalty", mistakes=(
        Mistake("Square the norm", _r1(_GRAD + "    return grad.norm(dim=1).mean()\n")),
        Mistake("averaged over the coordinates", _r1(_GRAD + "    return grad.pow(2).mean()\n")),
        Mistake("do not sum", _r1(_GRAD + "    return grad.pow(2).sum()\n")),
        Mistake("WGAN-GP", _r1(_GRAD + "    return (grad.norm(dim=1) - 1).pow(2).mean()\n")),
        Mistake("factor γ/2", _r1(_GRAD + "    return 0.5 * grad.pow(2).sum(dim=1).mean()\n")),
        Mistake("create_graph", _r1(
            "    (grad,) = torch.autograd.grad(discriminator(x).sum(), x)\n"
            "    return grad.pow(2).sum(dim=1).mean()\n")),
        Mistake("cannot differentiate", "def my_r1_penalty(discriminator, real):\n"
                "    (grad,) = torch.autograd.grad(discriminator(real).sum(), real, create_graph=True)\n"
                "    return grad.pow(2).sum(dim=1).mean()\n"),
        Mistake("changed the caller", "def my_r1_penalty(discriminator, real):\n"
                "    x = real.requires_grad_(True)\n" + _GRAD + "    return grad.pow(2).sum(dim=1).mean()\n"),
        Mistake("probability", _r1(
            "    (grad,) = torch.autograd.grad(discriminator(x).sigmoid().sum(), x, create_graph=True)\n"
            "    return grad.pow(2).sum(dim=1).mean()\n")),
        Mistake("Sum the logits", _r1(
            "    (grad,) = torch.autograd.grad(discriminator(x).mean(), x, create_graph=True)\n"
            "    return grad.pow(2).sum(dim=1).mean()\n")),
        Mistake("only for scalar outputs|needs one number", _r1(
            "    (grad,) = torch.autograd.grad(discriminator(x), x, create_graph=True)\n"
            "    return grad.pow(2).sum(dim=1).mean()\n")),
    )),
    "ex-gan-planted-bug": Exercise("bug hunt", setup=_STEP_SETUP, mistakes=(
        Mistake("planted bug is still there", _step(
            "    opt_d.zero_grad()\n    opt_g.zero_grad()\n    fakes = g_net(z_d)\n"
            "    loss_d = discriminator_loss(d_net(real), d_net(fakes))\n"
            "    (loss_d + r1_gamma / 2 * r1_penalty(d_net, real)).backward()\n",
            "    loss_g = generator_loss(d_net(g_net(z_g)))\n")),
        Mistake("accumulate", _step(_D_PART, "    loss_g = generator_loss(d_net(g_net(z_g)))\n")),
        Mistake("fresh noise", _step(_D_PART, _G_PART.replace("z_g", "z_d"))),
        Mistake("weighted by γ/2, not by γ", _step(_D_PART.replace("r1_gamma / 2", "r1_gamma"), _G_PART)),
        Mistake("Add the R1 penalty", _step(_D_PART.replace(" + r1_gamma / 2 * r1_penalty(d_net, real)", ""),
                                            _G_PART)),
        Mistake("saturating minimax", _step(_D_PART, _G_PART.replace(
            "generator_loss(d_net(g_net(z_g)))",
            "-torch.nn.functional.softplus(d_net(g_net(z_g))).mean()"))),
        Mistake("includes the R1 penalty", _step(
            "    fakes = g_net(z_d).detach()\n"
            "    loss_d = discriminator_loss(d_net(real), d_net(fakes)) + r1_gamma / 2 * r1_penalty(d_net, real)\n"
            "    opt_d.zero_grad()\n    loss_d.backward()\n", _G_PART)),
        Mistake("without opt_d.zero_grad\\(\\)", _step(_D_PART.replace("    opt_d.zero_grad()\n", ""), _G_PART)),
        Mistake("pair of Python floats", _step(_D_PART, _G_PART).replace(
            "return loss_d.item(), loss_g.item()", "return loss_d, loss_g")),
    )),
    "ex-gan-saturate": Exercise("written-checkable", mistakes=(
        Mistake("sign is wrong", _slopes("0.01", "0.99")),
        Mistake("swapped", _slopes("-0.99", "-0.01")),
        Mistake("loss's value", _slopes("math.log(1 - 0.01)", "-0.99")),
        Mistake("slope with respect to D", _slopes("-0.01", "-1 / 0.01")),
        Mistake("without the log", _slopes("-0.0099", "-0.99")),
        Mistake("without the log", _slopes("-0.01", "-0.0099")),
        Mistake("must be a number", _slopes("torch.tensor(-0.01)", "torch.tensor(-0.99)")),
    ), setup="import math\n"),
}
