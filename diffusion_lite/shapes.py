"""Captioned coloured shapes, generated on the fly, and a checker that reads them back.

Each image shows one shape ("circle", "square", "triangle") of one colour ("red", "green",
"blue", "yellow") in one quadrant ("top left", ...) on a black background, captioned
"a red circle at the top left". ``describe`` recovers the three attributes from pixels alone, so
a text-to-image model's samples can be graded without a human (chapter 8).
"""

from __future__ import annotations

import itertools

import torch

from ._validate import check_positive_int, check_tensor

COLOURS = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.3, 1.0),
           "yellow": (1.0, 1.0, 0.0)}
SHAPES = ("circle", "square", "triangle")
POSITIONS = ("top left", "top right", "bottom left", "bottom right")


# combinations never shown in the zoo's text-to-image training set: every colour, shape and
# position still appears, only these pairings are new (chapter 8)
HELD_OUT = ((0, 0, 0), (1, 1, 1), (2, 2, 2), (3, 0, 3), (0, 1, 2), (1, 2, 3))


def vocabulary() -> list[str]:
    """Every word a caption uses."""
    words = ["a", "at", "the", *COLOURS, *SHAPES, *(w for p in POSITIONS for w in p.split())]
    return list(dict.fromkeys(words))                     # each once, in order


def seen_combinations() -> list[tuple[int, int, int]]:
    return [c for c in all_combinations() if c not in HELD_OUT]


def caption(colour: str, shape: str, position: str) -> str:
    return f"a {colour} {shape} at the {position}"


def all_combinations() -> list[tuple[int, int, int]]:
    """Every (colour, shape, position) index triple: 4 × 3 × 4 = 48."""
    return list(itertools.product(range(len(COLOURS)), range(len(SHAPES)), range(len(POSITIONS))))


def _mask(shape: str, size: int, half_width: torch.Tensor, cy: torch.Tensor, cx: torch.Tensor):
    """Boolean (N, size, size) masks of one shape kind centred at (cy, cx) (pixel units)."""
    coords = torch.arange(size, dtype=torch.float32) + 0.5
    y, x = coords[None, :, None], coords[None, None, :]
    dy, dx = y - cy[:, None, None], x - cx[:, None, None]
    r = half_width[:, None, None]
    if shape == "circle":
        return dy**2 + dx**2 <= r**2
    if shape == "square":
        return (dy.abs() <= 0.8 * r) & (dx.abs() <= 0.8 * r)
    # triangle, apex up: inside when below the apex and within the widening sides
    return (dy <= r) & (dy >= -r) & (dx.abs() <= (dy + r) / 2)


def render(attributes: torch.Tensor, *, size: int = 16,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Images (N, 3, size, size) in [-1, 1] for (N, 3) attribute indices
    (colour, shape, position); the centre and size jitter by about a pixel."""
    check_tensor("attributes", attributes, ndim=2)
    if attributes.shape[1] != 3:
        raise ValueError(f"attributes: expected (N, 3) indices (colour, shape, position), got "
                         f"shape {tuple(attributes.shape)}")
    n = len(attributes)
    quarter = size / 4
    row, col = attributes[:, 2] // 2, attributes[:, 2] % 2
    jitter = (torch.rand(n, 3, generator=generator) - 0.5) * size / 16
    cy = (1 + 2 * row.float()) * quarter + jitter[:, 0]
    cx = (1 + 2 * col.float()) * quarter + jitter[:, 1]
    half_width = quarter * 0.8 + jitter[:, 2].abs() / 2      # never smaller: a tiny circle is a square
    images = torch.zeros(n, 3, size, size)
    palette = torch.tensor(list(COLOURS.values()))
    for k, shape in enumerate(SHAPES):
        chosen = attributes[:, 1] == k
        if chosen.any():
            mask = _mask(shape, size, half_width[chosen], cy[chosen], cx[chosen])
            images[chosen] = mask[:, None].float() * palette[attributes[chosen, 0]][:, :, None, None]
    return images * 2 - 1


def shapes(n: int, *, size: int = 16, combinations=None,
           generator: torch.Generator | None = None):
    """``n`` captioned shapes: images (n, 3, size, size) in [-1, 1], their captions, and the
    (n, 3) attribute indices. ``combinations`` restricts the draw to a list of
    (colour, shape, position) index triples (to hold some out); by default all 48."""
    check_positive_int("n", n)
    check_positive_int("size", size)
    if size % 4:
        raise ValueError(f"size: expected a multiple of 4, got {size}")
    pool = torch.tensor(combinations if combinations is not None else all_combinations())
    if pool.ndim != 2 or pool.shape[1] != 3 or len(pool) == 0:
        raise ValueError("combinations: expected a non-empty list of (colour, shape, position) "
                         f"index triples, got {combinations!r}")
    attributes = pool[torch.randint(0, len(pool), (n,), generator=generator)]
    images = render(attributes, size=size, generator=generator)
    return images, captions_of(attributes), attributes


def captions_of(attributes: torch.Tensor) -> list[str]:
    colours = list(COLOURS)
    return [caption(colours[c], SHAPES[s], POSITIONS[p]) for c, s, p in attributes.tolist()]


def parse_caption(text: str) -> tuple[int, int, int]:
    """The (colour, shape, position) indices of a caption written as ``caption`` writes them."""
    for c, s, p in all_combinations():
        if caption(list(COLOURS)[c], SHAPES[s], POSITIONS[p]) == text:
            return c, s, p
    raise ValueError(f"text: expected a caption like 'a red circle at the top left', got {text!r}")


def attributes_match(described: torch.Tensor, asked: torch.Tensor) -> torch.Tensor:
    """For attribute rows (N, 3) of (colour, shape, position) indices, as ``describe`` reads them
    and as a prompt asked for them: (N,) bool, True where all three agree. Chapter 8."""
    check_tensor("described", described, ndim=2)
    check_tensor("asked", asked, ndim=2)
    if described.shape != asked.shape or described.shape[1] != 3:
        raise ValueError(f"described, asked: expected two (N, 3) tensors of attribute indices, got "
                         f"shapes {tuple(described.shape)} and {tuple(asked.shape)}")
    return torch.eq(described, asked).all(dim=-1)


def prompt_accuracy(described: torch.Tensor, asked: torch.Tensor) -> float:
    """The share of rows of ``described`` (N, 3) whose colour, shape and position all agree
    with ``asked`` (N, 3), as a float: a sample is right only when all three are. Chapter 8."""
    matches = attributes_match(described, asked)
    if len(matches) == 0:
        raise ValueError("described, asked: expected at least one row, got none")
    return matches.sum().item() / len(matches)


def describe(images: torch.Tensor, *, threshold: float = 0.0) -> torch.Tensor:
    """Read (colour, shape, position) back from images (N, 3, H, W) in [-1, 1]: foreground is
    every pixel brighter than ``threshold`` in some channel; position is the quadrant of its
    centroid; colour the nearest palette entry to its mean; shape from its lower half holding
    far more pixels than its upper half (triangle), else from whether it fills the corners of its
    bounding box (square) or not (circle). Images with no foreground get -1s."""
    check_tensor("images", images, ndim=4)
    images = images.float().cpu()
    n, _, h, w = images.shape
    result = torch.full((n, 3), -1, dtype=torch.long)
    palette = torch.tensor(list(COLOURS.values())) * 2 - 1
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    for i in range(n):
        mask = images[i].amax(dim=0) > threshold
        if mask.sum() < 2:
            continue
        colour = images[i][:, mask].mean(dim=1)
        result[i, 0] = (palette - colour).pow(2).sum(dim=1).argmin()
        cy, cx = ys[mask].mean(), xs[mask].mean()
        result[i, 2] = 2 * int(cy >= h / 2) + int(cx >= w / 2)
        rows, cols = ys[mask], xs[mask]
        r0, r1, c0, c1 = (int(v) for v in (rows.min(), rows.max(), cols.min(), cols.max()))
        corners = int(mask[r0, c0]) + int(mask[r0, c1]) + int(mask[r1, c0]) + int(mask[r1, c1])
        middle = (rows.max() + rows.min()) / 2
        top, bottom = (rows < middle).sum(), (rows > middle).sum()   # pixels above / below centre
        if bottom > 1.6 * top:
            result[i, 1] = 2                        # triangle: widens downwards
        else:
            result[i, 1] = 1 if corners == 4 else 0   # only a square fills all four corners
    return result
