"""The small classifiers whose features the image metrics read (chapters 5–7 for digits,
chapter 9 for shapes): each CNN's ``features`` give the Fréchet distance, precision and recall
of ``metrics``, as FID reads Inception's. They are zoo models like the others: their recipes are
``zoo.CLASSIFIER_RECIPES``, their weights ship in ``zoo/`` and load frozen, checked against the
zoo's SHA-256 manifest, and ``python -m diffusion_lite.zoo train digits_classifier`` reproduces
them with ``train.train``.

Waveforms (chapter 13) need no network: ``spectrum_features`` reads a clip's log band-power
spectrum and loudness envelope, and the same Fréchet distance compares two sets of clips.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_floating, check_tensor
from .train import train


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


def train_digits_classifier(*, steps: int, batch_size: int, lr: float,
                            generator: torch.Generator | None = None,
                            progress: bool = False) -> DigitsClassifier:
    """Train a ``DigitsClassifier`` on the digits' train split, each batch shifted by up to one
    pixel in each direction (so that FD's features do not hinge on exact positions)."""
    from .data import digits

    def loss_fn(model, batch):
        images, labels = batch
        shift = torch.randint(-1, 2, (2,), generator=generator).tolist()
        return F.cross_entropy(model(torch.roll(images, shifts=shift, dims=(2, 3))), labels)

    model = DigitsClassifier()
    train(model, loss_fn, digits("train"), steps=steps, batch_size=batch_size, lr=lr,
          grad_clip=None, generator=generator, progress=progress)
    return model.eval()


@torch.no_grad()
def _features(classifier: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The classifier's features of images in [-1, 1], computed on the classifier's device
    (the images are moved there, never the classifier) and returned on the CPU."""
    check_tensor("images", images, ndim=4)
    if tuple(images.shape[1:]) != classifier.input_shape:
        raise ValueError(f"images: expected shape (B, {', '.join(map(str, classifier.input_shape))}) "
                         f"for {type(classifier).__name__}, got {tuple(images.shape)}")
    device = next(iter(classifier.parameters()), torch.empty(0)).device
    return classifier.features(images.float().to(device).clamp(-1, 1)).cpu()


def digits_classifier() -> DigitsClassifier:
    """The shipped classifier (≥ 97% on the digits' test split): ``zoo.load_classifier``."""
    from .zoo import load_classifier

    return load_classifier("digits_classifier")


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


def train_shapes_classifier(*, train_size: int, steps: int, batch_size: int, lr: float,
                            generator: torch.Generator | None = None,
                            progress: bool = False) -> ShapesClassifier:
    """Train a ``ShapesClassifier`` on ``train_size`` generated shapes of all 48 combinations,
    one cross-entropy per attribute (colour, shape, position)."""
    from .shapes import shapes

    images, _, attributes = shapes(train_size, generator=generator)

    def loss_fn(model, batch):
        x, y = batch
        return sum(F.cross_entropy(logits, y[:, i]) for i, logits in enumerate(model(x)))

    model = ShapesClassifier()
    train(model, loss_fn, (images, attributes), steps=steps, batch_size=batch_size, lr=lr,
          grad_clip=None, generator=generator, progress=progress)
    return model.eval()


def shapes_classifier() -> ShapesClassifier:
    """The shipped shapes classifier: ``zoo.load_classifier``."""
    from .zoo import load_classifier

    return load_classifier("shapes_classifier")


def shape_features(images: torch.Tensor, classifier: ShapesClassifier | None = None) -> torch.Tensor:
    """128-d classifier features of (B, 3, 16, 16) shapes images in [-1, 1]."""
    return _features(classifier or shapes_classifier(), images)


# ----------------------------------------------------------------------------- waveforms

ENVELOPE_SEGMENTS = 4   # equal time segments whose loudness spectrum_features reports


def spectrum_features(x: torch.Tensor, *, bands: int = 16) -> torch.Tensor:
    """Hand-made features of (B, 1, L) or (B, L) waveforms, (B, bands + ENVELOPE_SEGMENTS + 1):
    the log power in ``bands`` equal-width frequency bands from 0 to the Nyquist frequency (the
    rfft's bins averaged per band), the log RMS loudness of ``ENVELOPE_SEGMENTS`` equal time
    segments (the decay envelope), and the zero-crossing rate. ``metrics.frechet_distance`` on
    them compares two sets of clips, ``metrics.fd_floor`` gives the floor. Chapter 13."""
    if isinstance(bands, bool) or not isinstance(bands, int) or bands < 1:
        raise ValueError(f"bands: expected an int >= 1, got {bands!r}")
    check_tensor("x", x)
    if x.ndim == 3 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] < 2 * max(bands, ENVELOPE_SEGMENTS):
        raise ValueError(f"x: expected waveforms of shape (B, 1, L) or (B, L) with B >= 1 and "
                         f"L >= {2 * max(bands, ENVELOPE_SEGMENTS)}, got {tuple(x.shape)}")
    x = check_floating("x", x).double().cpu()                                    # (B, L)
    floor = 1e-8                                  # -80 dB: keeps silent bands finite
    # 1. the power spectrum, averaged in equal-width bands (bin 0 is the mean, left out)
    power = torch.fft.rfft(x, dim=1)[:, 1:].abs() ** 2 / x.shape[1]               # (B, L // 2)
    edges = torch.linspace(0, power.shape[1], bands + 1).round().long().tolist()
    band_power = torch.stack([power[:, a:b].mean(1) for a, b in zip(edges[:-1], edges[1:])], 1)
    # 2. the envelope: loudness of each time segment, and how often the sign changes
    segments = torch.tensor_split(x, ENVELOPE_SEGMENTS, dim=1)
    loudness = torch.stack([(s**2).mean(1) for s in segments], 1)                # (B, segments)
    crossings = (x[:, 1:].sign() != x[:, :-1].sign()).double().mean(1, keepdim=True)
    return torch.cat([(band_power + floor).log10(), 0.5 * (loudness + floor).log10(),
                      crossings], 1).float()                                      # (B, F)
