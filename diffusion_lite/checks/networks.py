"""Checkers for chapter 4, the U-Net: the timestep embedding, convolution sizes, the shapes
through the levels of a U-Net, and the loss of an untrained one."""

from __future__ import annotations

import re

import torch

from ..data import digits
from ..losses import epsilon_loss
from ..nn import timestep_embedding
from ..schedules import NoiseSchedule
from ..unet import UNet, UNetConfig, layer_shapes
from ._common import (
    Exercise,
    ExerciseError,
    Mistake,
    _answer_of,
    _name_the_mistake,
    _passed,
    checker,
)

_BROADCAST = re.compile(r"must match the size|size of tensor|shape .* broadcast|broadcast")


@checker(forbid=("timestep_embedding",))
def check_timestep_embedding(fn, cases: int = 4) -> None:
    """Chapter 4. ``fn(t, dim)`` must return the (B, dim) sinusoidal embedding of the steps ``t``
    (a (B,) LongTensor in 1 ... T): sines of t · 10000^(-i / (dim/2)) for i = 0 … dim/2 - 1,
    followed by the cosines of the same."""
    g = torch.Generator().manual_seed(4)
    labels, answers, references, mistakes = [], [], [], {}
    for dim in [8, 16, 32, 64][:cases]:
        t = torch.randint(1, 1001, (6,), generator=g)
        t[:2] = torch.tensor([1, 1000])                       # the first and the last step
        name = f"check_timestep_embedding (dim={dim})"
        try:
            answer = _answer_of(name, fn, (t, dim),
                                "t is a (B,) LongTensor of steps; return a (B, dim) tensor.")
        except ExerciseError as error:
            if error.__cause__ is None or not _BROADCAST.search(str(error.__cause__)):
                raise
            raise ExerciseError(f"{name}: the steps t, shape (B,), and the dim / 2 frequencies, "
                                "shape (dim / 2,), do not broadcast into a table: write "
                                "t[:, None] * frequencies[None, :], (B, 1) times (1, dim / 2), to "
                                "get one angle per step and frequency, shape (B, dim / 2). "
                                f"(Your function raised: {error.__cause__})") from error.__cause__
        half = dim // 2
        if isinstance(answer, torch.Tensor) and tuple(answer.shape) == (2 * len(t), half):
            raise ExerciseError(f"{name}: expected shape ({len(t)}, {dim}), got "
                                f"{tuple(answer.shape)}: concatenate the sines and cosines "
                                "along dim=1, the features, not along the batch.")
        i = torch.arange(half, dtype=torch.float64)
        if isinstance(answer, torch.Tensor) and tuple(answer.shape) == (len(t), dim) and half > 1:
            grown = torch.sin(t.double() * 10_000.0 ** (1 / half))    # the second frequency
            if torch.allclose(answer[:, 1].double(), grown, atol=1e-2):
                raise ExerciseError(f"{name}: not yet. The exponent is negative, 10000^(−i / "
                                    "(dim / 2)): the frequencies fall from 1 to nearly 1/10000, "
                                    "from fast features to slow ones; yours grow with i.")

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
            "Embed the step t itself, an integer 1 … T; you divided it by T = 1000. The slowest "
            "frequency already spreads the steps out; t / T squeezes them into angles below one "
            "radian, where neighbouring steps look alike.": features(steps=t / 1000),
        }
        labels.append(f"dim={dim}")
        answers.append(answer)
        references.append(timestep_embedding(t, dim))
        for hint, value in wrong.items():
            mistakes.setdefault(hint, []).append(value)
    # sin of angles up to 1000 rad: float32 rounding reaches ~1e-4
    _name_the_mistake("check_timestep_embedding", labels, answers, references, mistakes, atol=1e-3)
    _passed("check_timestep_embedding", len(labels))


@checker
def check_conv_output_size(fn) -> None:
    """Chapter 4. ``fn(size, kernel, stride, padding)`` must return the side length (an int)
    after a convolution: floor((size + 2·padding - kernel) / stride) + 1."""
    name = "check_conv_output_size"
    cases = [(8, 3, 1, 1), (8, 3, 2, 1), (7, 3, 2, 1), (28, 5, 1, 0), (32, 4, 2, 1), (9, 3, 2, 0),
             (3, 3, 1, 0), (16, 1, 1, 0)]
    answers = []
    for case in cases:
        answer = _answer_of(f"{name}{case}", fn, case, "size, kernel, stride and padding are "
                            "ints; return an int.")
        if isinstance(answer, bool) or not isinstance(answer, int):
            floor = "Round down with // ." if isinstance(answer, float) else \
                "Return a Python int (a tensor or numpy number is not one)."
            raise ExerciseError(f"{name}{case}: expected an int, got {type(answer).__name__} "
                                f"{answer!r}. {floor}")
        answers.append(answer)
    formulas = {
        None: lambda n, k, s, p: (n + 2 * p - k) // s + 1,
        "Count the first position of the kernel too: add 1.": lambda n, k, s, p: (n + 2 * p - k) // s,
        "Padding is added on both sides: 2 × padding.": lambda n, k, s, p: (n + p - k) // s + 1,
        "The padding widens the input: n + 2 × padding, before the kernel is subtracted.":
            lambda n, k, s, p: (n - k) // s + 1,
        "Divide by the stride: the kernel jumps stride pixels.": lambda n, k, s, p: n + 2 * p - k + 1,
        "The + 1 (the kernel's first position) comes after the division: floor((n + 2p − k) / s) "
        "+ 1, not floor((n + 2p − k + 1) / s).": lambda n, k, s, p: (n + 2 * p - k + 1) // s,
        "Round the division down (floor, //): a kernel position that would run past the padded "
        "input does not count; you rounded up or to the nearest.":
            lambda n, k, s, p: -(-(n + 2 * p - k) // s) + 1,
    }
    for hint, formula in formulas.items():
        if answers == [formula(*case) for case in cases]:
            if hint is None:
                return _passed(name, len(cases))
            raise ExerciseError(f"{name}: not yet. {hint}")
    case, answer = next((c, a) for c, a in zip(cases, answers) if a != formulas[None](*c))
    raise ExerciseError(f"{name}{case}: expected {formulas[None](*case)}, got "
                        f"{answer}. Draw the positions of the kernel on a line of pixels.")


_SHAPE_CONFIGS = (
    UNetConfig(),                                                       # the chapter's net
    UNetConfig(image_size=16, in_channels=3, base_channels=8, channel_mults=(1, 2, 4),
               attention_resolutions=()),
    UNetConfig(image_size=32, in_channels=4, base_channels=4, channel_mults=(1, 1, 2, 3),
               attention_resolutions=(8,)),
)


def _unet_shapes(c: UNetConfig, mistake: str | None = None) -> dict:
    """The (C, H, W) after the blocks that ``check_unet_shapes`` asks for, by the rules of
    ``UNet`` (or with one typical ``mistake``)."""
    levels = len(c.channel_mults)
    widths = [c.base_channels * (2**i if mistake == "doubling" else m)
              for i, m in enumerate(c.channel_mults)]
    sides = [c.image_size // 2**i for i in range(levels)]
    low = c.image_size // 2 ** (levels - (0 if mistake == "extra halving" else 1))
    shapes = {"conv_in": (c.base_channels, c.image_size, c.image_size)}
    for i in range(levels):
        shapes[f"down.{i}.res.0"] = (widths[i], sides[i], sides[i])
        if i < levels - 1:
            channels = widths[i + 1] if mistake == "resample channels" else widths[i]
            shapes[f"down.{i}.resample"] = (channels, sides[i] // 2, sides[i] // 2)
    shapes["mid.res.1"] = (widths[-1], low, low)
    for j in range(levels):
        i = j if mistake == "up numbering" else levels - 1 - j      # up.0 is the lowest level
        skip = widths[i] if mistake == "skip in output" else 0
        shapes[f"up.{j}.res.0"] = (widths[i] + skip, sides[i], sides[i])
        if j < levels - 1:
            shapes[f"up.{j}.resample"] = (widths[i], 2 * sides[i], 2 * sides[i])
    shapes["conv_out"] = (c.base_channels if mistake == "conv_out" else c.in_channels,
                          c.image_size, c.image_size)
    if mistake == "with batch":
        shapes = {k: (2, *v) for k, v in shapes.items()}
    if mistake == "channels last":
        shapes = {k: (v[1], v[2], v[0]) for k, v in shapes.items()}
    return shapes


_SHAPE_MISTAKES = {
    "doubling": "The channels of level i are base_channels × channel_mults[i]; you doubled them "
                "at every level, which agrees only when the multipliers are 1, 2, 4, …",
    "extra halving": "The middle works at the lowest level's resolution, image_size / "
                     "2^(levels − 1): the last level of the down path has no resample.",
    "resample channels": "A resample changes only the side (a stride-2 convolution keeps the "
                         "channels); the next level's first residual block changes the channels.",
    "up numbering": "The up path counts from the bottom: up.0 is the lowest-resolution level, "
                    "the last up level is full resolution (they run in the order the image meets "
                    "them).",
    "skip in output": "A skip is concatenated to the *input* of an up block; the block's output "
                      "has its level's width, base_channels × channel_mults[i].",
    "conv_out": "conv_out returns to the image's channels (in_channels): the output is a noise "
                "estimate of the input's shape.",
    "with batch": "Give each shape as (C, H, W), without the batch dimension.",
    "channels last": "PyTorch's order is (C, H, W), channels first.",
}


def _as_shape(value):
    if isinstance(value, (tuple, list, torch.Size)) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(value)
    return None


@checker
def check_unet_shapes(fn) -> None:
    """Chapter 4. ``fn(config)`` must predict, for a ``UNetConfig`` with one residual block per
    level, the (C, H, W) after ``conv_in``, each level's ``down.i.res.0`` and ``down.i.resample``
    (all levels but the last), ``mid.res.1``, each ``up.i.res.0`` and ``up.i.resample`` (all
    but the last) and ``conv_out``. The checker runs each net with forward hooks
    (``layer_shapes``) and compares."""
    name = "check_unet_shapes"
    answers, measured = [], []
    for config in _SHAPE_CONFIGS:
        where = (f"{name} (image_size={config.image_size}, in_channels={config.in_channels}, "
                 f"base_channels={config.base_channels}, channel_mults={config.channel_mults})")
        answer = _answer_of(where, fn, (config,), "fn gets a UNetConfig; read its fields "
                            "(config.image_size, config.channel_mults, ...) and return a dict.")
        if not isinstance(answer, dict):
            raise ExerciseError(f"{where}: expected a dict from block names to (C, H, W), got "
                                f"{type(answer).__name__}")
        torch.manual_seed(0)
        x_t = torch.zeros(2, config.in_channels, config.image_size, config.image_size)
        shapes = dict(layer_shapes(UNet(config).eval(), x_t, torch.tensor([1, 500])))
        expected = {k: shapes[k][1:] for k in _unet_shapes(config)}
        assert expected == _unet_shapes(config), "the rules of UNet changed"
        extra = sorted(set(answer) - set(expected))
        for key in extra:
            level = key.split(".")[1] if key.count(".") >= 2 else ""
            if key.endswith(".resample") and level.isdigit():
                end = "down" if key.startswith("down") else "up"
                raise ExerciseError(f"{where}: there is no {key}: the last level of the {end} path "
                                    "has no resample (the " + ("middle works at its resolution)."
                                                               if end == "down" else
                                                               "output is at full resolution)."))
        missing = sorted(set(expected) - set(answer))
        if missing or extra:
            raise ExerciseError(f"{where}: expected the keys {sorted(expected)}; missing "
                                f"{missing}, unexpected {extra}. There is one down and one up "
                                "level per entry of channel_mults.")
        answers.append({k: _as_shape(answer[k]) or answer[k] for k in expected})
        measured.append(expected)
    if answers == measured:
        _passed(name, len(_SHAPE_CONFIGS))
        print("the last net, measured with forward hooks:",
              ", ".join(f"{k} {v}" for k, v in measured[-1].items()))
        return None
    for mistake, hint in _SHAPE_MISTAKES.items():
        if all(a == _unet_shapes(c, mistake) for a, c in zip(answers, _SHAPE_CONFIGS)):
            raise ExerciseError(f"{name}: not yet. {hint}")
    config, answer, truth = next((c, a, m) for c, a, m in zip(_SHAPE_CONFIGS, answers, measured)
                                 if a != m)
    key = next(k for k in truth if answer[k] != truth[k])
    raise ExerciseError(f"{name} (channel_mults={config.channel_mults}, image_size="
                        f"{config.image_size}): {key}: you predicted {answer[key]!r}, the network "
                        f"gives {truth[key]}. Follow the image through the levels as "
                        "layer_shapes prints them above.")


@checker(forbid=("epsilon_loss",))
def check_untrained_loss(fn) -> None:
    """Chapter 4. ``fn()`` must return the ε-loss (a Python float) of a U-Net whose ``conv_out``
    is zero, as ``UNet`` starts; the checker measures it on the digits."""
    name = "check_untrained_loss"
    answer = _answer_of(name, fn, (), "Return a number.")
    if isinstance(answer, int) and not isinstance(answer, bool):
        raise ExerciseError(f"{name}: expected a Python float, got the int {answer}: a loss is a "
                            f"mean, a float; write {answer}.0 .")
    if not isinstance(answer, float):
        raise ExerciseError(f"{name}: expected a Python float, got {type(answer).__name__} "
                            f"{answer!r:.40} (for a 0-d tensor, use .item()).")
    torch.manual_seed(0)
    model = UNet(UNetConfig())
    images, _ = digits("train")
    with torch.no_grad():
        measured = epsilon_loss(model, NoiseSchedule.cosine(1000), images,
                                generator=torch.Generator().manual_seed(0)).item()
    d = images[0].numel()
    if abs(answer - measured) <= 0.05:
        _passed(name, 1)
        print(f"you predicted {answer:.3g}; measured on the {len(images):,} training digits: "
              f"{measured:.3f}")
        return None
    if abs(answer) < 0.05:
        raise ExerciseError(f"{name}: not yet. The network predicts zero, but the loss compares "
                            "that with the noise ε: its value is the mean of ε², not zero.")
    if abs(answer - d * measured) <= 0.05 * d:
        raise ExerciseError(f"{name}: not yet. The ε-loss averages over the d = {d} pixels of an "
                            "image (chapter 2); you summed them.")
    if abs(answer - 2) <= 0.1:
        raise ExerciseError(f"{name}: not yet. Nothing is added to the error: a zero prediction "
                            "leaves ‖ε − 0‖² / d, whose mean is the variance of ε.")
    direction = "higher" if answer < measured else "lower"
    raise ExerciseError(f"{name}: not yet; the network's loss is {direction} than your "
                        f"{answer:.3g}. What is the mean of ε² for ε ~ N(0, 1)?")


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
def _embedding(body: str) -> str:
    return "def my_timestep_embedding(t, dim):\n    half = dim // 2\n" + body


def _conv(expression: str) -> str:
    return ("import math\n\n\ndef my_conv_output_size(size, kernel, stride, padding):\n"
            f"    return {expression}\n")


_SHAPES = '''def my_unet_shapes(config):
    c = config
    widths = [c.base_channels * m for m in c.channel_mults]
    levels = len(widths)
    shapes = {"conv_in": (c.base_channels, c.image_size, c.image_size)}
    for i, width in enumerate(widths):
        side = c.image_size // 2**i
        shapes[f"down.{i}.res.0"] = (width, side, side)
        if i < levels - 1:
            shapes[f"down.{i}.resample"] = (width, side // 2, side // 2)
    low = c.image_size // 2 ** (levels - 1)
    shapes["mid.res.1"] = (widths[-1], low, low)
    for j in range(levels):
        i = levels - 1 - j
        side = c.image_size // 2**i
        shapes[f"up.{j}.res.0"] = (widths[i], side, side)
        if j < levels - 1:
            shapes[f"up.{j}.resample"] = (widths[i], 2 * side, 2 * side)
    shapes["conv_out"] = (c.in_channels, c.image_size, c.image_size)
    return shapes
'''


def _shapes(old: str, new: str) -> str:
    if old not in _SHAPES:
        raise ValueError(f"old: expected a line of the shapes answer, got {old!r}")
    return _SHAPES.replace(old, new)


_ANGLES = "    angles = t.float()[:, None] * frequencies[None, :]\n"
_FREQUENCIES = "    frequencies = 10_000.0 ** (-torch.arange(half) / half)\n"
_SIN_COS = "    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)\n"

EXERCISES: dict[str, Exercise] = {
    "ex-unet-embedding": Exercise("transcription", reference="diffusion_lite.nn.timestep_embedding",
                                  mistakes=(
        Mistake(r"t\[:, None\]", _embedding(
            _FREQUENCIES + "    angles = t.float() * frequencies\n" + _SIN_COS)),
        Mistake("Sines first", _embedding(
            _FREQUENCIES + _ANGLES
            + "    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)\n")),
        Mistake("interleave", _embedding(
            _FREQUENCIES + _ANGLES
            + "    return torch.stack([torch.sin(angles), torch.cos(angles)], dim=2).flatten(1)\n")),
        Mistake("divided by dim", _embedding(
            "    frequencies = 10_000.0 ** (-torch.arange(half) / dim)\n" + _ANGLES + _SIN_COS)),
        Mistake("dim / 2 - 1", _embedding(
            "    frequencies = 10_000.0 ** (-torch.arange(half) / (half - 1))\n" + _ANGLES + _SIN_COS)),
        Mistake("i counts from 0", _embedding(
            "    frequencies = 10_000.0 ** (-torch.arange(1, half + 1) / half)\n" + _ANGLES
            + _SIN_COS)),
        Mistake("embedded t - 1", _embedding(
            _FREQUENCIES + "    angles = (t - 1).float()[:, None] * frequencies[None, :]\n"
            + _SIN_COS)),
        Mistake("along dim=1", _embedding(
            _FREQUENCIES + _ANGLES
            + "    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=0)\n")),
        Mistake("exponent is negative", _embedding(
            "    frequencies = 10_000.0 ** (torch.arange(half) / half)\n" + _ANGLES + _SIN_COS)),
        Mistake("divided it by T", _embedding(
            _FREQUENCIES + "    angles = (t / 1000)[:, None] * frequencies[None, :]\n" + _SIN_COS)),
        Mistake("calls the package's timestep_embedding", _embedding(
            "    return timestep_embedding(t, dim)\n")),
        Mistake("dtype", _embedding(
            "    frequencies = 10_000.0 ** (-torch.arange(half, dtype=torch.float64) / half)\n"
            + "    angles = t.double()[:, None] * frequencies[None, :]\n" + _SIN_COS)),
    )),
    "ex-unet-conv-size": Exercise("transcription", mistakes=(
        Mistake("add 1", _conv("(size + 2 * padding - kernel) // stride")),
        Mistake("both sides", _conv("(size + padding - kernel) // stride + 1")),
        Mistake("padding widens", _conv("(size - kernel) // stride + 1")),
        Mistake("Divide by the stride", _conv("size + 2 * padding - kernel + 1")),
        Mistake("after the division", _conv("(size + 2 * padding - kernel + 1) // stride")),
        Mistake("Round the division down", _conv(
            "math.ceil((size + 2 * padding - kernel) / stride) + 1")),
        Mistake("Round down with //", _conv("(size + 2 * padding - kernel) / stride + 1")),
        Mistake("Python int", _conv(
            "torch.tensor(size + 2 * padding - kernel) // stride + 1")),
    )),
    "ex-unet-shapes": Exercise("prediction", mistakes=(
        Mistake("channel_mults\\[i\\]; you doubled", _shapes(
            "widths = [c.base_channels * m for m in c.channel_mults]",
            "widths = [c.base_channels * 2**i for i in range(len(c.channel_mults))]")),
        Mistake("no resample", _shapes("        if i < levels - 1:\n            shapes[f\"down",
                                       "        if True:\n            shapes[f\"down")),
        Mistake("lowest level's resolution", _shapes("2 ** (levels - 1)", "2 ** levels")),
        Mistake("changes only the side", _shapes("(width, side // 2, side // 2)",
                                                 "(widths[i + 1], side // 2, side // 2)")),
        Mistake("counts from the bottom", _shapes("        i = levels - 1 - j\n", "        i = j\n")),
        Mistake("concatenated to the \\*input\\*", _shapes(
            "(widths[i], side, side)", "(2 * widths[i], side, side)")),
        Mistake("image's channels", _shapes('"conv_out"] = (c.in_channels',
                                            '"conv_out"] = (c.base_channels')),
        Mistake("without the batch", _shapes(
            "    return shapes\n", "    return {k: (2, *v) for k, v in shapes.items()}\n")),
        Mistake("channels first", _shapes(
            "    return shapes\n", "    return {k: (v[1], v[2], v[0]) for k, v in shapes.items()}\n")),
        Mistake("missing \\['up.0.res.0'", _shapes('shapes[f"up.{j}.res.0"]', 'shapes[f"up.{i}.res"]')),
    )),
    "ex-unet-zero-init": Exercise("written-checkable", mistakes=(
        Mistake("not zero", "def my_untrained_loss():\n    return 0.0\n"),
        Mistake("you summed", "def my_untrained_loss():\n    return 64.0\n"),
        Mistake("\\.item\\(\\)", "def my_untrained_loss():\n    return torch.tensor(1.0)\n"),
        Mistake("Nothing is added", "def my_untrained_loss():\n    return 2.0\n"),
        Mistake("got the int 1", "def my_untrained_loss():\n    return 1\n"),
        Mistake("loss is higher than your", "def my_untrained_loss():\n    return 0.5\n"),
        Mistake("calls the package's epsilon_loss", "def my_untrained_loss():\n"
                "    model = UNet(UNetConfig())\n"
                "    images, _ = dl.data.digits(\"train\")\n"
                "    return epsilon_loss(model, NoiseSchedule.cosine(1000), images).item()\n"),
    )),
}
