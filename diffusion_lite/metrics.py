"""Sample-quality metrics, each read beside its floor: distances between 2-D point sets
(chapters 3, 10–12), and between image sets through the classifiers of ``features``: a Fréchet
distance ("FD"), precision and recall on k-NN manifolds, class histograms (chapters 5–9); the
Chamfer distance between point clouds, and the FD of waveforms' spectra (chapter 13).

A metric between model samples and real data means little alone: even two independent real
samples of the same size are at a nonzero distance. ``metric_floor`` measures that distance for
point sets, ``fd_floor`` the FD between real training and test images.
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


def _check_clouds(name: str, value) -> torch.Tensor:
    check_tensor(name, value, ndim=3)
    if value.shape[0] == 0 or value.shape[1] == 0:
        raise ValueError(f"{name}: expected point clouds (B, N, D) with B, N >= 1, "
                         f"got {tuple(value.shape)}")
    return value


def chamfer_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The Chamfer distance between paired point clouds, (B, N, D) and (B, M, D) -> (B,): the
    mean squared distance from each point of ``a`` to its nearest point of ``b``, plus the same
    from ``b`` to ``a`` (Fan et al. 2017, eq. 1, averaged rather than summed; the convention of
    Achlioptas et al. 2018). Symmetric, blind to the order of the points, 0 for identical sets.
    Squared, so in units of distance²: 0.01 means points about 0.1 apart. Chapter 13."""
    _check_clouds("a", a)
    _check_clouds("b", b)
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[2]:
        raise ValueError(f"b: expected ({a.shape[0]}, M, {a.shape[2]}) to pair with a's "
                         f"{tuple(a.shape)}, got {tuple(b.shape)}")
    # exact differences, not the |a|² + |b|² - 2ab shortcut, so identical sets give exactly 0
    d2 = torch.cdist(a.double(), b.double(), compute_mode="donot_use_mm_for_euclid_dist") ** 2
    return (d2.min(dim=2).values.mean(1) + d2.min(dim=1).values.mean(1)).float()   # (B,)


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
    """Half the L1 distance between two histograms (on any devices): 0 equal, 1 disjoint."""
    return 0.5 * (p.cpu() - q.cpu()).abs().sum().item()
