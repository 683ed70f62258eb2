"""Generated non-image data for chapter 13 ("beyond images"), each with the ground truth its
metric needs: audio-like plucks (their spectrum is known), point clouds on one of two known
surfaces (the exact distance to them is computable) and trajectories of a known deterministic
system (a continuation can be checked against the true one).

Waveforms are (n, 1, length) in [-1, 1], point clouds (n, num_points, 3), trajectories
(n, 2, length): channels first for the two sequences, as ``SequenceDenoiser`` reads them.
Every generator takes ``generator`` so that seeded draws are reproducible.
"""

from __future__ import annotations

import math

import torch

from ._validate import check_positive_int, check_tensor

WAVEFORM_RATE = 2000        # samples per second: Nyquist 1 kHz, above every partial (to play in a
                            # browser, which wants >= 3 kHz, resample: chapter 13 plays at 8 kHz)
WAVEFORM_LENGTH = 256       # samples per clip: 0.128 s at WAVEFORM_RATE, cheap to train on a CPU
PLUCK_FREQUENCIES = (100.0, 500.0)    # Hz, the range of each partial's frequency
PLUCK_DECAYS = (0.015, 0.08)          # s, the range of each partial's decay time

SPHERE_RADIUS = 1.0
TORUS_RADII = (1.0, 0.4)    # (R, r): the tube's centre circle in the xy-plane, the tube's radius
NUM_POINTS = 128

TRAJECTORY_LENGTH = 64                  # frames per trajectory
GRAVITY = 0.003                         # downward acceleration, per frame², of a thrown ball
RESTITUTION = 0.8                       # the share of its vertical speed a ball keeps at a bounce
FLOOR = -1.0                            # the height of the floor it bounces on


def _uniform(shape, low: float, high: float, generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator, dtype=torch.float64)


def _check_float(name: str, value, *, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"{name}: expected a finite number, got {value!r}")
    if value < low:
        raise ValueError(f"{name}: expected a number >= {low}, got {value}")
    return float(value)


# ----------------------------------------------------------------------------- waveforms


def waveforms(n: int, *, length: int = WAVEFORM_LENGTH, sample_rate: int = WAVEFORM_RATE,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` audio-like plucks, (n, 1, length) float32 in [-1, 1]: each a sum of 1–3
    exponentially damped sinusoids a_k exp(-s / tau_k) sin(2π f_k s + phi_k) at time s (seconds),
    with f_k in ``PLUCK_FREQUENCIES``, tau_k in ``PLUCK_DECAYS``, the amplitudes a_k summing to a
    peak level in [0.5, 0.9] (so no clip leaves [-1, 1]). Play one with
    ``IPython.display.Audio(x[0, 0], rate=sample_rate)``. Chapter 13."""
    check_positive_int("n", n)
    check_positive_int("length", length, minimum=16)
    check_positive_int("sample_rate", sample_rate)
    if sample_rate <= 2 * PLUCK_FREQUENCIES[1]:
        raise ValueError(f"sample_rate: expected more than {2 * PLUCK_FREQUENCIES[1]:.0f} Hz, twice the "
                         f"highest partial (Nyquist), got {sample_rate}")
    # 1. 1–3 partials per clip; the unused ones get amplitude 0
    partials = torch.randint(1, 4, (n, 1), generator=generator)                  # (n, 1)
    used = (torch.arange(3)[None, :] < partials).double()                         # (n, 3)
    frequency = _uniform((n, 3), *PLUCK_FREQUENCIES, generator)                   # Hz
    phase = _uniform((n, 3), 0.0, 2 * math.pi, generator)
    decay = _uniform((n, 3), *PLUCK_DECAYS, generator)                            # s
    amplitude = _uniform((n, 3), 0.2, 1.0, generator) * used
    amplitude = amplitude / amplitude.sum(1, keepdim=True) * _uniform((n, 1), 0.5, 0.9, generator)
    # 2. sum the damped sinusoids over the partials
    s = torch.arange(length, dtype=torch.float64) / sample_rate                   # (L,) seconds
    partial = (amplitude[..., None] * torch.exp(-s / decay[..., None])
               * torch.sin(2 * math.pi * frequency[..., None] * s + phase[..., None]))  # (n, 3, L)
    return partial.sum(1, keepdim=True).float()                                  # (n, 1, L)


# ----------------------------------------------------------------------------- point clouds


def _sphere(count: int, num_points: int, generator) -> torch.Tensor:
    """Uniform on the sphere: normalised Gaussian vectors (Muller 1959)."""
    g = torch.randn(count, num_points, 3, generator=generator, dtype=torch.float64)
    return SPHERE_RADIUS * g / g.norm(dim=-1, keepdim=True)


def _torus(count: int, num_points: int, generator) -> torch.Tensor:
    """Uniform on the torus. The area element is r (R + r cos v) du dv, so u is uniform and v
    has the density (1 + (r/R) cos v) / 2π, drawn by inverting its CDF (v + (r/R) sin v) / 2π
    with Newton's method (monotone, since r < R)."""
    big, small = TORUS_RADII
    u = _uniform((count, num_points), 0.0, 2 * math.pi, generator)
    target = _uniform((count, num_points), 0.0, 2 * math.pi, generator)
    v, k = target.clone(), small / big
    for _ in range(30):
        v = v - (v + k * torch.sin(v) - target) / (1 + k * torch.cos(v))
    ring = big + small * torch.cos(v)
    return torch.stack([ring * torch.cos(u), ring * torch.sin(u), small * torch.sin(v)], dim=-1)


def point_clouds(n: int, *, num_points: int = NUM_POINTS, noise: float = 0.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` point clouds, (n, num_points, 3) float32: each ``num_points`` points uniform on ONE
    surface, a sphere of radius ``SPHERE_RADIUS`` for even indices and a torus with radii
    ``TORUS_RADII`` (around the z axis) for odd ones, so half of them each and the true surface
    of cloud i is ``i % 2`` (as ``which_surface`` numbers them); plus Gaussian noise of std
    ``noise`` on every coordinate. Both fit in [-1.4, 1.4]³. Chapter 13."""
    check_positive_int("n", n)
    check_positive_int("num_points", num_points)
    noise = _check_float("noise", noise)
    clouds = torch.empty(n, num_points, 3, dtype=torch.float64)
    clouds[0::2] = _sphere(len(range(0, n, 2)), num_points, generator)
    clouds[1::2] = _torus(len(range(1, n, 2)), num_points, generator)
    if noise > 0:
        clouds = clouds + noise * torch.randn(clouds.shape, generator=generator, dtype=torch.float64)
    return clouds.float()


def _check_clouds(points) -> torch.Tensor:
    check_tensor("points", points, ndim=3)
    if points.shape[2] != 3 or points.shape[0] == 0 or points.shape[1] == 0:
        raise ValueError(f"points: expected clouds of shape (B, N, 3) with B, N >= 1, "
                         f"got {tuple(points.shape)}")
    return points.double()


def _surface_distances(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact distance of each point to the sphere and to the torus, each (B, N)."""
    p = _check_clouds(points)
    big, small = TORUS_RADII
    to_sphere = (p.norm(dim=-1) - SPHERE_RADIUS).abs()
    # the nearest point of the torus lies on the tube around the nearest point of its centre circle
    to_circle = torch.sqrt((p[..., :2].norm(dim=-1) - big) ** 2 + p[..., 2] ** 2)
    return to_sphere, (to_circle - small).abs()


def surface_distance(points: torch.Tensor) -> torch.Tensor:
    """The mean, over each cloud's points, of the exact distance to the NEARER of the two
    surfaces of ``point_clouds`` (each point picks its own): (B, N, 3) -> (B,). About 0 for real
    clouds (their ``noise`` level), large for clouds that lie on neither surface. Chapter 13."""
    to_sphere, to_torus = _surface_distances(points)
    return torch.minimum(to_sphere, to_torus).mean(dim=1).float()


def which_surface(points: torch.Tensor) -> torch.Tensor:
    """Which surface each cloud lies on, as a (B,) LongTensor: 0 the sphere, 1 the torus,
    whichever the cloud's points are nearer to on average. Chapter 13."""
    to_sphere, to_torus = _surface_distances(points)
    return (to_torus.mean(dim=1) < to_sphere.mean(dim=1)).long()


# ----------------------------------------------------------------------------- trajectories


def trajectories(n: int, *, length: int = TRAJECTORY_LENGTH,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` paths (x, y) over ``length`` frames of a ball thrown to the right that falls under
    ``GRAVITY`` and bounces on the floor at y = ``FLOOR``, keeping ``RESTITUTION`` of its
    vertical speed, as (n, 2, length) float32 within [-1, 1]. Each frame: the vertical speed
    loses ``GRAVITY``, the position moves by the speed, and a ball below the floor is reflected
    up. Random start x in [-1, -0.7], y in [-0.4, 0.5], speed (0.01 to 0.025, -0.01 to 0.04)
    per frame. Deterministic given two consecutive frames (position and speed), so the ground
    truth for a continuation of the first k frames is the rest of the tensor itself,
    ``paths[..., k:]``. Chapter 13."""
    check_positive_int("n", n)
    check_positive_int("length", length, minimum=2)
    x, y = _uniform((n,), -1.0, -0.7, generator), _uniform((n,), -0.4, 0.5, generator)
    vx, vy = _uniform((n,), 0.01, 0.025, generator), _uniform((n,), -0.01, 0.04, generator)
    frames = []
    for _ in range(length):
        frames.append(torch.stack([x, y], dim=1))                                  # (n, 2)
        vy = vy - GRAVITY                                                           # 1. fall
        x, y = x + vx, y + vy                                                       # 2. move
        below = y < FLOOR                                                           # 3. bounce
        y = torch.where(below, FLOOR + (FLOOR - y) * RESTITUTION, y)
        vy = torch.where(below, -vy * RESTITUTION, vy)
    return torch.stack(frames, dim=2).float()                                      # (n, 2, L)
