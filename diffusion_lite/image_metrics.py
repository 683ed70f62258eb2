"""Sample-quality metrics for digit images (chapters 5–7) and shapes (chapter 9): small
classifiers whose features give a Fréchet distance ("FD"), precision and recall on k-NN
manifolds, and class histograms.

Each is read beside its floor: the same metric between the digits' train and test splits.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import checkpoints
from ._validate import check_positive_int, check_rows, check_tensor

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


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """||mu_a - mu_b||² + Tr(S_a + S_b - 2 (S_a S_b)^{1/2}) between Gaussians fitted to two
    feature sets (Heusel et al. 2017, eq. 6), computed in float64."""
    for name, features in [("features_a", features_a), ("features_b", features_b)]:
        check_rows(name, check_tensor(name, features, ndim=2), 2, "a covariance needs two samples")
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"features_b: expected {features_a.shape[1]} features like features_a, "
                         f"got {features_b.shape[1]}")
    a, b = features_a.double(), features_b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    # Tr (S_a S_b)^{1/2} = sum of sqrt eigenvalues of S_a^{1/2} S_b S_a^{1/2} (symmetric PSD)
    vals, vecs = torch.linalg.eigh(cov_a)
    sqrt_a = vecs @ torch.diag(vals.clamp(min=0).sqrt()) @ vecs.T
    cross = torch.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a).clamp(min=0).sqrt().sum()
    return ((mu_a - mu_b) ** 2).sum().item() + (cov_a.trace() + cov_b.trace() - 2 * cross).item()


def fd_floor(reference_features: torch.Tensor, test_features: torch.Tensor, *,
             repeats: int = 5) -> float:
    """The FD that real data scores: the median, over ``repeats`` disjoint subsets of the
    reference (training) features of the test set's size, of their FD to the test features.

    One subset is not enough: at 297 digits the FD between two sets of real digits moves by
    ±15% from subset to subset, so a single draw can flatter or punish a model. Chapters 5–7."""
    check_tensor("reference_features", reference_features, ndim=2)
    check_tensor("test_features", test_features, ndim=2)
    n = len(test_features)
    if len(reference_features) < repeats * n:
        raise ValueError(f"reference_features: expected at least repeats × {n} = {repeats * n} rows "
                         f"for {repeats} disjoint subsets, got {len(reference_features)}")
    order = torch.randperm(len(reference_features), generator=torch.Generator().manual_seed(0))
    distances = [frechet_distance(reference_features[order[i * n:(i + 1) * n]], test_features)
                 for i in range(repeats)]
    return float(torch.tensor(distances).median())


def precision_recall(real: torch.Tensor, fake: torch.Tensor, *, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019): the share of fake samples
    inside the real k-NN manifold, and of real samples inside the fake one."""
    check_positive_int("k", k)
    for name, points in [("real", real), ("fake", fake)]:
        check_rows(name, check_tensor(name, points, ndim=2), k + 1, f"k = {k} neighbours and the point itself")

    def inside(support: torch.Tensor, queries: torch.Tensor) -> float:
        radii = torch.cdist(support, support).kthvalue(k + 1, dim=1).values     # k-th neighbour
        return (torch.cdist(queries, support) <= radii[None, :]).any(dim=1).float().mean().item()

    real, fake = real.double(), fake.double()
    return inside(real, fake), inside(fake, real)


def class_histogram(labels: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """The share of each class among ``labels``. (num_classes,)"""
    return torch.bincount(labels.cpu(), minlength=num_classes).float() / len(labels)


def total_variation(p: torch.Tensor, q: torch.Tensor) -> float:
    """Half the L1 distance between two histograms: 0 equal, 1 disjoint."""
    return 0.5 * (p - q).abs().sum().item()
