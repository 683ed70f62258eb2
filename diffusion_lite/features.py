"""The small classifiers whose features the image metrics read (chapters 5–7 for digits,
chapter 9 for shapes): each CNN's ``features`` give the Fréchet distance, precision and recall
of ``metrics``, as FID reads Inception's. Their weights ship in ``zoo/`` and load frozen, checked
against the zoo's SHA-256 manifest.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import checkpoints
from ._validate import check_tensor

CLASSIFIER_PATH = Path(__file__).parent / "zoo" / "digits_classifier.pt"
SHAPES_CLASSIFIER_PATH = Path(__file__).parent / "zoo" / "shapes_classifier.pt"


class DigitsClassifier(nn.Module):
    """A small CNN for 8×8 digits. ``features`` returns the 128-d penultimate activations
    used by the Fréchet distance (as FID uses Inception's, Heusel et al. 2017)."""

    input_shape = (1, 8, 8)

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),                   # (B, 32, 8, 8)
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),        # (B, 64, 4, 4)
            nn.Flatten(), nn.Linear(64 * 16, 128), nn.ReLU())            # (B, 128)
        self.head = nn.Linear(128, 10)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.conv(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))                         # logits (B, 10)


def train_digits_classifier(*, epochs: int = 40, seed: int = 0, progress: bool = False) -> DigitsClassifier:
    """The recipe of the shipped classifier: Adam, random 1-pixel shifts, digits' train split."""
    from .data import digits

    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    images, labels = digits("train")
    model = DigitsClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(epochs):
        for batch in torch.randperm(len(images), generator=generator).split(128):
            shift = torch.randint(-1, 2, (2,), generator=generator).tolist()
            x = torch.roll(images[batch], shifts=shift, dims=(2, 3))
            loss = F.cross_entropy(model(x), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def _load_frozen(model: nn.Module, path: Path) -> nn.Module:
    """``model`` with the shipped weights at ``path`` (weights_only, checked against their
    SHA-256), in eval mode, frozen."""
    which = path.name.removesuffix("_classifier.pt")
    fix = (f"reinstall diffusion_lite, or retrain it with `python -m diffusion_lite.zoo classifier "
           f"{which}` and copy the file to {path}, then run `python -m diffusion_lite.zoo manifest`")
    expected = checkpoints.read_manifest(path.parent).get(path.name)
    if expected is None:
        raise checkpoints.CheckpointError(f"{path}: not listed in "
                                          f"{path.parent / checkpoints.MANIFEST_NAME}; {fix}")
    model.load_state_dict(checkpoints.read(path, fix=fix, expected_sha256=expected))
    return model.eval().requires_grad_(False)


@torch.no_grad()
def _features(classifier: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The classifier's features of images in [-1, 1], on the CPU."""
    check_tensor("images", images, ndim=4)
    if tuple(images.shape[1:]) != classifier.input_shape:
        raise ValueError(f"images: expected shape (B, {', '.join(map(str, classifier.input_shape))}) "
                         f"for {type(classifier).__name__}, got {tuple(images.shape)}")
    return classifier.features(images.float().cpu().clamp(-1, 1))


def digits_classifier() -> DigitsClassifier:
    """The shipped classifier (≥ 97% on the digits' test split), loaded with weights_only."""
    return _load_frozen(DigitsClassifier(), CLASSIFIER_PATH)


def digit_features(images: torch.Tensor, classifier: DigitsClassifier | None = None) -> torch.Tensor:
    """128-d classifier features of (B, 1, 8, 8) images in [-1, 1]."""
    return _features(classifier or digits_classifier(), images)


class ShapesClassifier(nn.Module):
    """A small CNN for 16×16 RGB shapes that reads colour (4), shape (3) and position (4) with
    one head each; ``features`` returns the 128-d penultimate activations for FD."""

    input_shape = (3, 16, 16)

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(),                   # (B, 32, 16, 16)
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),        # (B, 64, 8, 8)
            nn.Conv2d(64, 64, 3, stride=2, padding=1), nn.ReLU(),        # (B, 64, 4, 4)
            nn.Flatten(), nn.Linear(64 * 16, 128), nn.ReLU())            # (B, 128)
        self.head = nn.Linear(128, 4 + 3 + 4)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.conv(images)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits for colour (B, 4), shape (B, 3) and position (B, 4)."""
        return self.head(self.features(images)).split((4, 3, 4), dim=1)


def train_shapes_classifier(*, steps: int = 600, seed: int = 0) -> ShapesClassifier:
    """The recipe of the shipped shapes classifier: Adam on freshly generated shapes."""
    from .shapes import shapes

    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = ShapesClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(steps):
        images, _, attributes = shapes(128, generator=generator)
        loss = sum(F.cross_entropy(logits, attributes[:, i]) for i, logits in enumerate(model(images)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def shapes_classifier() -> ShapesClassifier:
    """The shipped shapes classifier, loaded with weights_only."""
    return _load_frozen(ShapesClassifier(), SHAPES_CLASSIFIER_PATH)


def shape_features(images: torch.Tensor, classifier: ShapesClassifier | None = None) -> torch.Tensor:
    """128-d classifier features of (B, 3, 16, 16) shapes images in [-1, 1]."""
    return _features(classifier or shapes_classifier(), images)
