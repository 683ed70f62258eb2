"""diffusion_lite: the small PyTorch package behind *Diffusion Models, Hands-On*.

Modules, in the order the book teaches them: ``schedules`` (forward process), ``losses``
(training objectives), ``samplers`` (reverse process), ``unet`` (denoisers), ``data``,
``metrics`` and ``image_metrics``, ``train``, ``plotting``, ``checks`` (exercise checkers),
``zoo`` (pretrained models) and ``checkpoints`` (weight files written and read safely),
``shapes`` and ``text`` (text-to-image in miniature).
"""

from . import (
    checkpoints,
    checks,
    data,
    image_metrics,
    losses,
    metrics,
    plotting,
    samplers,
    schedules,
    shapes,
    text,
    train,
    unet,
    zoo,
)
from .schedules import NoiseSchedule
from .train import pick_device, seed_everything

__all__ = ["checkpoints", "checks", "data", "image_metrics", "losses", "metrics", "plotting",
           "samplers", "schedules", "shapes", "text", "train", "unet", "zoo", "NoiseSchedule",
           "pick_device", "seed_everything"]
__version__ = "0.1.0"
