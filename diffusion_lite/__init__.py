"""diffusion_lite: the small PyTorch package behind *Diffusion Models, Hands-On*.

Modules, in the order the book teaches them: ``schedules`` (forward process), ``losses``
(training objectives), ``samplers`` (reverse process), ``unet`` (denoisers), ``data``,
``metrics``, ``train``, ``plotting`` and ``checks`` (exercise checkers).
"""

from . import checks, data, losses, metrics, plotting, samplers, schedules, train, unet
from .schedules import NoiseSchedule
from .train import pick_device, seed_everything

__all__ = ["checks", "data", "losses", "metrics", "plotting", "samplers", "schedules", "train",
           "unet", "NoiseSchedule", "pick_device", "seed_everything"]
__version__ = "0.1.0"
