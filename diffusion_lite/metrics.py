"""Sample-quality metrics for 2-D sets, each reported beside its floor (chapters 3, 10–12).

A metric between model samples and real data means little alone: even two independent real
samples of the same size are at a nonzero distance. ``metric_floor`` measures that distance.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._validate import check_positive_int, check_rows, check_tensor


def _check_sets(x: torch.Tensor, y: torch.Tensor, minimum: int = 1, why: str = "a point set") -> None:
    check_rows("x", check_tensor("x", x, ndim=2), minimum, why)
    check_rows("y", check_tensor("y", y, ndim=2), minimum, why)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"y: expected points of dimension {x.shape[1]} like x, got {y.shape[1]}")


def sliced_wasserstein(x: torch.Tensor, y: torch.Tensor, *, num_projections: int = 512,
                       generator: torch.Generator | None = None) -> float:
    """Sliced 2-Wasserstein distance between two equal-size point sets (Rabin et al. 2011):
    project on random directions, sort, compare. Chapter 3."""
    _check_sets(x, y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"y: expected as many points as x ({x.shape[0]}), got {y.shape[0]}")
    directions = torch.randn(x.shape[1], num_projections, generator=generator)
    directions = directions / directions.norm(dim=0, keepdim=True)          # (D, P)
    x_proj = torch.sort(x.float().cpu() @ directions, dim=0).values         # (N, P)
    y_proj = torch.sort(y.float().cpu() @ directions, dim=0).values
    return ((x_proj - y_proj) ** 2).mean().sqrt().item()


def rbf_mmd(x: torch.Tensor, y: torch.Tensor, *, bandwidth: float | None = None) -> float:
    """Squared maximum mean discrepancy with a Gaussian kernel (Gretton et al. 2012, unbiased
    estimator, eq. 3). The bandwidth defaults to the median pairwise distance of the pooled set."""
    _check_sets(x, y, 2, "the unbiased estimator averages over pairs of distinct points")
    x, y = x.float().cpu(), y.float().cpu()
    pooled = torch.cat([x, y])
    d2 = torch.cdist(pooled, pooled) ** 2
    if bandwidth is None:
        bandwidth = d2[d2 > 0].median().sqrt().item()
    k = torch.exp(-d2 / (2 * bandwidth**2))
    n, m = len(x), len(y)
    k_xx, k_yy, k_xy = k[:n, :n], k[n:, n:], k[:n, n:]

    def mean_off_diagonal(a, size):
        return (a.sum() - a.diagonal().sum()) / (size * (size - 1))

    return (mean_off_diagonal(k_xx, n) + mean_off_diagonal(k_yy, m) - 2 * k_xy.mean()).item()


def mode_coverage(samples: torch.Tensor, centres: torch.Tensor, *,
                  radius: float | None = None) -> torch.Tensor:
    """Fraction of ``samples`` nearest each of the (K, D) ``centres``, counting only samples
    within ``radius`` of it (default: a third of the smallest distance between centres).
    Returns (K,) fractions; they sum to less than 1 when some samples fall between modes."""
    check_rows("samples", check_tensor("samples", samples, ndim=2), 1, "shares of no samples are undefined")
    _check_sets(samples, centres)
    samples, centres = samples.float().cpu(), centres.float().cpu()
    if radius is None:
        gaps = torch.cdist(centres, centres) + torch.eye(len(centres)) * 1e9
        radius = gaps.min().item() / 3
    distance, nearest = torch.cdist(samples, centres).min(dim=1)
    counts = torch.bincount(nearest[distance <= radius], minlength=len(centres))
    return counts.float() / len(samples)


def metric_floor(metric: Callable[..., float], real: torch.Tensor, n: int, *, repeats: int = 5,
                 generator: torch.Generator | None = None, **kwargs) -> float:
    """The metric between two disjoint random halves of size ``n`` drawn from ``real``,
    median over ``repeats`` draws: the best score a perfect model could expect.
    ``kwargs`` go to ``metric``."""
    check_tensor("real", real, ndim=2)
    check_positive_int("n", n)
    if len(real) < 2 * n:
        raise ValueError(f"real: expected at least 2*n = {2 * n} points, got {len(real)}")
    scores = []
    for _ in range(repeats):
        order = torch.randperm(len(real), generator=generator)
        a, b = real[order[:n]], real[order[n:2 * n]]
        scores.append(metric(a, b, **kwargs))
    return float(torch.tensor(scores).median())
