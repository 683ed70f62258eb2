"""Data that needs no download: 2-D toy sets, scikit-learn's digits and sample photo.

Points are (N, 2) float32, scaled to roughly unit spread; images are (N, C, H, W) in [-1, 1].
Every generator takes ``generator`` so that seeded draws are reproducible.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ._validate import check_choice, check_positive_int


def _randn(n, d, generator):
    return torch.randn(n, d, generator=generator)


def _rand(n, generator):
    return torch.rand(n, generator=generator)


def swiss_roll(n: int, *, noise: float = 0.03, generator: torch.Generator | None = None) -> torch.Tensor:
    """A 2-D spiral: the classic swiss roll seen from its end."""
    u = 1.5 * math.pi * (1 + 2 * _rand(n, generator))                 # angle along the roll
    points = torch.stack([u * torch.cos(u), u * torch.sin(u)], dim=1) / 7.5
    return points + noise * _randn(n, 2, generator)


def moons(n: int, *, noise: float = 0.05, generator: torch.Generator | None = None) -> torch.Tensor:
    """Two interleaved half circles."""
    u = math.pi * _rand(n, generator)
    upper = _rand(n, generator) < 0.5
    x = torch.where(upper, torch.cos(u), 1 - torch.cos(u))
    y = torch.where(upper, torch.sin(u), 0.5 - torch.sin(u))
    points = torch.stack([x - 0.5, y - 0.25], dim=1) * 1.6
    return points + noise * _randn(n, 2, generator)


def eight_gaussian_centres(radius: float = 2.0) -> torch.Tensor:
    """The eight mode centres of ``eight_gaussians``, on a circle. (8, 2)."""
    angles = torch.arange(8) * (2 * math.pi / 8)
    return radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)


def eight_gaussians(n: int, *, std: float = 0.1, radius: float = 2.0,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """A mixture of eight equal Gaussians on a circle: the standard test of mode coverage."""
    modes = torch.randint(0, 8, (n,), generator=generator)
    return eight_gaussian_centres(radius)[modes] + std * _randn(n, 2, generator)


def grid_gaussian_centres(side: int = 5, spacing: float = 1.0) -> torch.Tensor:
    """The side × side mode centres of ``grid_gaussians``, a square grid centred on the
    origin, row by row. (side², 2)."""
    check_positive_int("side", side)
    if not spacing > 0:
        raise ValueError(f"spacing: expected a positive distance, got {spacing}")
    axis = (torch.arange(side) - (side - 1) / 2) * spacing
    return torch.cartesian_prod(axis, axis).float()


def grid_gaussians(n: int, *, side: int = 5, std: float = 0.05, spacing: float = 1.0,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """A mixture of side² equal Gaussians on a square grid (5 × 5 = 25 by default): the harder
    test of mode coverage that GAN papers use beside the ring of eight. Chapter 12."""
    check_positive_int("n", n)
    centres = grid_gaussian_centres(side, spacing)
    modes = torch.randint(0, len(centres), (n,), generator=generator)
    return centres[modes] + std * _randn(n, 2, generator)


def checkerboard(n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniform points on the dark squares of a 4×4 board spanning [-2, 2]²."""
    x = 4 * _rand(n, generator) - 2
    column = torch.floor(x + 2)                                   # 0..3
    y = _rand(n, generator) + torch.randint(0, 2, (n,), generator=generator) * 2.0 - 2
    y = y + (column % 2)                                          # shift odd columns by one square
    return torch.stack([x, y], dim=1)


def rings(n: int, *, noise: float = 0.04, generator: torch.Generator | None = None) -> torch.Tensor:
    """Three concentric circles with points in proportion to their length."""
    radii = torch.tensor([0.6, 1.3, 2.0])
    ring = torch.multinomial(radii / radii.sum(), n, replacement=True, generator=generator)
    angle = 2 * math.pi * _rand(n, generator)
    points = radii[ring, None] * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    return points + noise * _randn(n, 2, generator)


TOY_DATASETS = {"swiss_roll": swiss_roll, "moons": moons, "eight_gaussians": eight_gaussians,
                "checkerboard": checkerboard, "rings": rings, "grid_gaussians": grid_gaussians}


def toy_2d(name: str, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` points of the toy set ``name`` (one of ``TOY_DATASETS``), as (n, 2) float32."""
    check_choice("name", name, TOY_DATASETS)
    check_positive_int("n", n)
    return TOY_DATASETS[name](n, generator=generator).float()


# ----------------------------------------------------------------------------- images


def sample_photo(name: str = "china.jpg", size: int = 128) -> torch.Tensor:
    """One of scikit-learn's bundled photos, centre-cropped and resized, as (1, 3, size, size)
    in [-1, 1]. ``name`` is ``"china.jpg"`` or ``"flower.jpg"``. Chapter 1."""
    from sklearn.datasets import load_sample_image

    check_choice("name", name, {"china.jpg", "flower.jpg"})
    check_positive_int("size", size)
    image = torch.from_numpy(np.array(load_sample_image(name))).permute(2, 0, 1).float() / 255   # (3, H, W)
    side = min(image.shape[1:])
    top, left = (image.shape[1] - side) // 2, (image.shape[2] - side) // 2
    image = image[:, top:top + side, left:left + side]
    image = F.interpolate(image[None], size=(size, size), mode="bilinear", antialias=True,
                          align_corners=False)
    return (image * 2 - 1).clamp(-1, 1)


DIGITS_TEST_SIZE = 297   # the 1,797 digits split 1,500 train / 297 test, fixed once


def digits(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 8×8 handwritten digits as ((N, 1, 8, 8) in [-1, 1], (N,) labels).

    ``split`` is ``"train"`` (1,500), ``"test"`` (297) or ``"all"`` (1,797); the split is
    a fixed permutation, the same on every machine.
    """
    from sklearn.datasets import load_digits

    check_choice("split", split, {"train", "test", "all"})
    bunch = load_digits()
    images = torch.from_numpy(bunch.images).float().div(8).sub(1).unsqueeze(1)   # 0..16 -> [-1, 1]
    labels = torch.from_numpy(bunch.target).long()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    if split == "train":
        order = order[DIGITS_TEST_SIZE:]
    elif split == "test":
        order = order[:DIGITS_TEST_SIZE]
    return images[order], labels[order]


def mnist(split: str = "train", *, root=None) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST as ((N, 1, 28, 28) in [-1, 1], (N,) labels), downloaded once with checksum
    verification and cached. Needs a network connection the first time; offline, use
    ``digits()``."""
    from .datasets_online import load

    return load("mnist", split, root=root)


def fashion_mnist(split: str = "train", *, root=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST, as ``mnist()``."""
    from .datasets_online import load

    return load("fashion_mnist", split, root=root)


from .shapes import shapes  # noqa: E402, F401  captioned shapes (chapter 8) live in their own module
