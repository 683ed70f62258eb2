"""Argument checks shared by the package: each error names the argument,
what was expected and what was given."""

from __future__ import annotations

import contextlib
import threading

import torch

_LOOP = threading.local()


@contextlib.contextmanager
def inside_loop():
    """A sampler's loop, whose inputs were checked once before it starts: inside, the checks
    that read a tensor's values (finite, steps in range) are skipped. Each such check makes a
    GPU's host wait until the GPU has caught up; a loop would wait several times a step."""
    before = getattr(_LOOP, "active", False)
    _LOOP.active = True
    try:
        yield
    finally:
        _LOOP.active = before


def checking_values() -> bool:
    """False inside ``inside_loop``, where the checks that read a tensor's values are skipped."""
    return not getattr(_LOOP, "active", False)


def check_tensor(name: str, value, *, ndim: int | None = None, min_ndim: int | None = None,
                 finite: bool = True) -> torch.Tensor:
    """Raise a clear error unless ``value`` is a tensor of the expected rank with finite values."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name}: expected a tensor with {ndim} dimensions, "
                         f"got shape {tuple(value.shape)}")
    if min_ndim is not None and value.ndim < min_ndim:
        raise ValueError(f"{name}: expected at least {min_ndim} dimensions (batch first), "
                         f"got shape {tuple(value.shape)}")
    if (finite and value.is_floating_point() and checking_values()
            and not torch.isfinite(value).all()):
        raise ValueError(f"{name}: expected finite values, got NaN or inf")
    return value


def check_floating(name: str, value: torch.Tensor) -> torch.Tensor:
    """Raise unless ``value`` holds floating-point numbers (images as uint8 or int64 would be
    scaled by coefficients cast to integers, silently)."""
    if not value.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor (e.g. images scaled to [-1, 1] "
                        f"as float32), got {value.dtype}")
    return value


def check_rows(name: str, value: torch.Tensor, minimum: int, why: str) -> torch.Tensor:
    """Raise unless ``value`` has at least ``minimum`` rows (points, samples, images)."""
    if value.shape[0] < minimum:
        raise ValueError(f"{name}: expected at least {minimum} rows ({why}), got {value.shape[0]}")
    return value


def check_same_shape(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_b}: expected the shape of {name_a} {tuple(a.shape)}, "
                         f"got {tuple(b.shape)}")


def check_positive_int(name: str, value, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return value


def check_choice(name: str, value, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {sorted(choices)}, got {value!r}")
    return value
