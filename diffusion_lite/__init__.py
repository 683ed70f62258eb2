"""diffusion_lite: the small PyTorch package behind *Diffusion Models, Hands-On*.

Modules, in the order the book teaches them: ``schedules`` (forward process), ``losses``
(training objectives), ``samplers`` (reverse process), ``unet`` (denoisers), ``data``,
``metrics`` (every distance and its floor) and ``features`` (the feature networks the image
metrics read), ``train``, ``runtime`` (device choice and seeding), ``plotting``, ``checks``
(exercise checkers, one module per chapter or topic), ``zoo`` (pretrained models) and
``checkpoints`` (weight files written and read safely), ``shapes`` and ``text`` (text-to-image
in miniature), ``gan`` (the GAN that chapter 12 measures diffusion against), and for chapter 13
``generated`` (non-image data: waveforms, point clouds, trajectories) and ``denoisers`` (their
networks).
"""

from . import (
    checkpoints,
    checks,
    data,
    denoisers,
    features,
    gan,
    generated,
    losses,
    metrics,
    plotting,
    runtime,
    samplers,
    schedules,
    shapes,
    text,
    train,
    unet,
    zoo,
)
from .runtime import pick_device, seed_everything
from .schedules import NoiseSchedule

__all__ = ["checkpoints", "checks", "data", "denoisers", "features", "gan", "generated", "losses",
           "metrics", "plotting", "runtime", "samplers", "schedules", "shapes", "text", "train",
           "unet", "zoo",
           "NoiseSchedule", "pick_device", "seed_everything"]
# the release: tagged v<version> in the repository; every chapter's setup cell pins it
__version__ = "0.2.0"
