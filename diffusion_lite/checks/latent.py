"""Checkers for chapter 9, the VAE behind latent diffusion: its KL term, the
reparameterisation trick, and the arithmetic a denoiser call saves in latent space."""

from __future__ import annotations

import torch

from ._common import (
    Exercise,
    ExerciseError,
    Mistake,
    _answer_of,
    _call_student,
    _diagnose,
    _passed,
    checker,
)


@checker(forbid=("kl_to_standard_normal",))
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
        if isinstance(answer, torch.Tensor) and tuple(answer.shape) == tuple(mean.shape[:2]):
            raise ExerciseError(f"{name}: expected shape {tuple(reference.shape)}, got "
                                f"{tuple(answer.shape)}: sum over every latent dimension of an "
                                "image, channels as well as height and width.")
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
    if isinstance(z, torch.Tensor) and z.requires_grad:
        z.sum().backward()
    missing = [name for name, v in [("mean", mean), ("logvar", logvar)]
               if v.grad is None or not v.grad.abs().sum() > 0]
    if missing:
        raise ExerciseError(f"check_reparameterise: no gradient reaches {' and '.join(missing)}; "
                            "build z from mean and logvar with torch operations (no .detach(), no "
                            "torch.no_grad()).")
    _passed("check_reparameterise", cases)


def _denoiser_flops(config) -> int:
    """Floating-point operations of one call of ``UNet(config)`` on one image (counted by
    ``torch.utils.flop_counter.FlopCounterMode``: a multiply-add is 2)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from ..unet import UNet

    torch.manual_seed(0)
    net = UNet(config).eval()
    x_t = torch.zeros(1, config.in_channels, config.image_size, config.image_size)
    # attention by its plain matrix products, which the counter sees on every device (the CPU's
    # fused kernel is not among the operations it counts)
    with FlopCounterMode(display=False) as counter, torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
        net(x_t, torch.tensor([500]))
    return counter.get_total_flops()


@checker
def check_flop_ratio(fn) -> None:
    """Chapter 9. ``fn()`` must return a prediction (a float): how many times the operations of
    one call of the pixel model's U-Net (``shapes_unet``, 16×16×3) exceed those of one call of
    the latent model's (``shapes_latent``, 4×4×4). The checker counts both and accepts 3%;
    the plain ratio of positions, 16, is named and refused only where the count differs from it
    by more than 1%."""
    from .. import zoo

    name = "check_flop_ratio"
    answer = _answer_of(name, fn, (), "Return a number.")
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise ExerciseError(f"{name}: expected a float, got {type(answer).__name__} {answer!r:.40}"
                            " (for a 0-d tensor, use .item()).")
    pixel, latent = zoo.RECIPES["shapes_unet"].config, zoo.RECIPES["shapes_latent"].config
    flops = {"pixel": _denoiser_flops(pixel), "latent": _denoiser_flops(latent)}
    measured = flops["pixel"] / flops["latent"]
    positions = (pixel.image_size / latent.image_size) ** 2
    if abs(answer - positions) <= 0.005 * positions and abs(measured - positions) > 0.01 * positions:
        raise ExerciseError(f"{name}: not yet. {positions:g} is the plain count of positions, "
                            "right for the convolutions; which parts of the net do not scale "
                            "with the positions?")
    if abs(answer - measured) <= 0.03 * measured:
        _passed(name, 1)
        print(f"counted with FlopCounterMode: pixel {flops['pixel']:,} and latent "
              f"{flops['latent']:,} operations per call, a ratio of {measured:.1f}; you predicted "
              f"{answer:.3g}")
        return None
    values = pixel.image_size**2 * pixel.in_channels / (latent.image_size**2 * latent.in_channels)
    named = {
        values: f"{values:g} is the ratio of the numbers in an image and a latent. Inside the "
                "U-Net both models have the same channels at every level; only the input's "
                "channels differ, and only in conv_in. What the two calls differ in is the "
                "number of positions every convolution runs over.",
        pixel.image_size / latent.image_size:
            "That is the ratio of the side lengths; a convolution runs over every position, "
            "and the number of positions is the square of the side.",
        positions**2: "That is the ratio for self-attention alone, which compares all pairs of "
                       "positions; the convolutions, most of the work here, scale with the "
                       "positions themselves.",
        1.0: "The two U-Nets have (almost) the same parameters, but a convolution's cost is its "
             "parameters times the number of positions it runs over.",
        48.0: "48 is Stable Diffusion's compression, at f = 8; this chapter's autoencoder has "
              "f = 4, and the cost follows positions, not numbers.",
    }
    for value, hint in named.items():
        if abs(answer - value) <= 0.05 * value:
            raise ExerciseError(f"{name}: not yet. {hint}")
    direction = "more" if answer < measured else "fewer"
    raise ExerciseError(f"{name}: not yet; the pixel model's call costs {direction} than "
                        f"{answer:.3g} times the latent model's. Count the positions a convolution "
                        "runs over at each level, in both spaces.")


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
def _kl(expression: str) -> str:
    return f"def my_kl(mean, logvar):\n    return {expression}\n"


def _reparameterise(expression: str) -> str:
    return f"def my_reparameterise(mean, logvar, noise):\n    return {expression}\n"


EXERCISES: dict[str, Exercise] = {
    "ex-latent-kl": Exercise("transcription", reference="diffusion_lite.losses.kl_to_standard_normal",
                             mistakes=(
        Mistake("Halve the sum", _kl("(mean.pow(2) + logvar.exp() - 1 - logvar).flatten(1).sum(dim=1)")),
        Mistake(r"not exp\(logvar / 2\)", _kl(
            "0.5 * (mean.pow(2) + (0.5 * logvar).exp() - 1 - logvar).flatten(1).sum(dim=1)")),
        Mistake("Subtract log s", _kl(
            "0.5 * (mean.pow(2) + logvar.exp() - 1 + logvar).flatten(1).sum(dim=1)")),
        Mistake("The − 1 is missing", _kl(
            "0.5 * (mean.pow(2) + logvar.exp() - logvar).flatten(1).sum(dim=1)")),
        Mistake("Include μ²", _kl("0.5 * (logvar.exp() - 1 - logvar).flatten(1).sum(dim=1)")),
        Mistake("Square the mean", _kl(
            "0.5 * (mean + logvar.exp() - 1 - logvar).flatten(1).sum(dim=1)")),
        Mistake("summed \\(or averaged\\) over the batch", _kl(
            "0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum()")),
        Mistake("do not average", _kl(
            "0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).flatten(1).mean(dim=1)")),
        Mistake("every latent dimension", _kl(
            "0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(dim=(2, 3))")),
        Mistake("calls the package's kl_to_standard_normal", _kl("kl_to_standard_normal(mean, logvar)")),
        Mistake("in place", "def my_kl(mean, logvar):\n    var = logvar.exp_()\n"
                "    return 0.5 * (mean.pow(2) + var - 1 - var.log()).flatten(1).sum(dim=1)\n"),
    )),
    "ex-latent-reparam": Exercise("transcription", mistakes=(
        Mistake("no gradient reaches logvar", _reparameterise("mean + (0.5 * logvar.detach()).exp() * noise")),
        Mistake("not the variance", _reparameterise("mean + logvar.exp() * noise")),
        Mistake("logvar is a log", _reparameterise("mean + 0.5 * logvar * noise")),
        Mistake("1 / s", _reparameterise("mean + (-0.5 * logvar).exp() * noise")),
        Mistake("Add the mean", _reparameterise("(0.5 * logvar).exp() * noise")),
        Mistake("use the noise passed in", _reparameterise(
            "mean + (0.5 * logvar).exp() * torch.randn_like(mean)")),
        Mistake("no gradient", _reparameterise("(mean + (0.5 * logvar).exp() * noise).detach()")),
        Mistake("Multiply the standard deviation by the noise", _reparameterise(
            "mean + (0.5 * logvar).exp()")),
    )),
    "ex-latent-flops": Exercise("prediction", mistakes=(
        Mistake("numbers in an image and a latent", "def my_flop_ratio():\n    return 12.0\n"),
        Mistake("side lengths", "def my_flop_ratio():\n    return 4.0\n"),
        Mistake("pairs", "def my_flop_ratio():\n    return 256.0\n"),
        Mistake("parameters times the number of positions", "def my_flop_ratio():\n    return 1\n"),
        Mistake("Stable Diffusion's compression", "def my_flop_ratio():\n    return 48.0\n"),
        Mistake(r"\.item\(\)", "def my_flop_ratio():\n    return torch.tensor(16.0)\n"),
        Mistake("more than 8 times", "def my_flop_ratio():\n    return 8.0\n"),
    )),
    "ex-latent-clip": Exercise("written"),
}

