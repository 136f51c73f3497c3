"""Fréchet Inception Distance: feature statistics, FID by pytorch-fid's own formula, and FID∞.

FID fits a Gaussian to each set's Inception features and measures the Fréchet distance between
them: ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr √(Σ₁Σ₂), the formula of pytorch-fid's
`calculate_frechet_distance`. pytorch-fid takes the matrix square root of the 2048 × 2048 product
(about 10 s on two CPU cores, and inaccurate when the product is singular); here each covariance
is kept as a factor Σ = F Fᵀ — the centred features themselves when a set has fewer images than
dimensions — and tr √(Σ₁Σ₂) is the nuclear norm of F₁ᵀ F₂ (the singular values of F₁ᵀF₂ are the
square roots of the eigenvalues of Σ₁Σ₂). Same number, exactly (tests compare it with
pytorch-fid's function and command); a per-group report of small sets takes seconds, not minutes.
It is biased upward for small sets — the more so the fewer images — and a
covariance of n images has rank at most n − 1: below 2049 images in 2048 dimensions it is
singular (`RankDeficientCovarianceWarning`; KID is then the number to compare). FID∞ (Chong &
Forsyth 2020, "Effectively Unbiased FID and Inception Score and where to find them") removes
the bias by extrapolation: the FID of random subsets of N synthetic images is linear in 1/N,
and the line's value at 1/N = 0 is the FID of infinitely many images.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TypedDict

import numpy as np

MIN_IMAGES = 2
FID_INFINITY_POINTS = 15  # Chong & Forsyth: 15 sizes, evenly spaced from a tenth of the set to all of it


class RankDeficientCovarianceWarning(UserWarning):
    """A set has no more images than feature dimensions: its covariance is singular, FID biased upward."""


@dataclass(frozen=True)
class FeatureStatistics:
    """Mean and covariance of a set's features (what FID compares), and how many images made them.

    The covariance is held as a d × k factor F with Σ = F Fᵀ: k = n for n images (centred
    features / √(n − 1)), at most d when built from a covariance matrix.
    """

    mean: np.ndarray
    factor: np.ndarray
    count: int

    @classmethod
    def from_covariance(cls, mean: np.ndarray, covariance: np.ndarray, count: int) -> FeatureStatistics:
        """Statistics from a mean and covariance matrix (e.g. pytorch-fid's saved ``.npz`` statistics)."""
        values, vectors = np.linalg.eigh(np.asarray(covariance, dtype=np.float64))
        keep = values > values.max(initial=0.0) * 1e-12
        return cls(np.asarray(mean, dtype=np.float64), vectors[:, keep] * np.sqrt(values[keep]), count)

    @property
    def covariance(self) -> np.ndarray:
        return self.factor @ self.factor.T

    @property
    def rank_deficient(self) -> bool:
        """The covariance of n images has rank ≤ n − 1, below the dimension d when n ≤ d."""
        return self.count <= self.mean.shape[0]


def small_sample_bias(n_images: int, dimensions: int) -> str:
    """What to say beside an FID whose smaller set has ``n_images``: "" once a covariance can be of full rank (n > d).

    Below that the bias can dwarf real differences (two phantom sets of one distribution: FID 42 at
    500 images each, 215 at 12), so the number alone misleads; KID, unbiased, is the one to compare."""
    return f"biased upwards: {n_images} images for {dimensions} feature dimensions" if n_images <= dimensions else ""


def feature_statistics(features: np.ndarray) -> FeatureStatistics:
    """Mean and covariance (as pytorch-fid: ``np.cov(rowvar=False)``, unbiased) of N×d features."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"features must be an N×d array, not of shape {features.shape}")
    if np.isnan(features).any():
        raise ValueError("features contain NaN rows (images that could not be read): keep only the rows of FeatureResult.ok")
    if len(features) < MIN_IMAGES:
        raise ValueError(f"a covariance needs at least {MIN_IMAGES} images; this set has {len(features)}")
    mean = features.mean(axis=0)
    if len(features) > features.shape[1]:  # more images than dimensions: a d × d factor is smaller
        return FeatureStatistics.from_covariance(mean, np.cov(features, rowvar=False), len(features))
    return FeatureStatistics(mean, (features - mean).T / np.sqrt(len(features) - 1), len(features))


def _statistics(features: np.ndarray | FeatureStatistics) -> FeatureStatistics:
    return features if isinstance(features, FeatureStatistics) else feature_statistics(features)


def fid(a: np.ndarray | FeatureStatistics, b: np.ndarray | FeatureStatistics) -> float:
    """FID between two sets, each given as N×d features or as their `FeatureStatistics`.

    Warns `RankDeficientCovarianceWarning` when either set has no more images than dimensions.
    """
    a, b = _statistics(a), _statistics(b)
    if a.mean.shape != b.mean.shape:
        raise ValueError(f"features of different dimensions: {a.mean.shape[0]} and {b.mean.shape[0]}")
    if a.rank_deficient or b.rank_deficient:
        warnings.warn(
            f"FID of {a.count} and {b.count} images in {a.mean.shape[0]} dimensions: a covariance of n images "
            "is singular for n ≤ d, and FID is biased upward; compare KID, or FID∞, instead",
            RankDeficientCovarianceWarning,
            stacklevel=2,
        )
    trace_sqrt_product = np.linalg.svd(a.factor.T @ b.factor, compute_uv=False).sum()
    traces = np.sum(a.factor**2) + np.sum(b.factor**2)
    return float(np.sum((a.mean - b.mean) ** 2) + traces - 2 * trace_sqrt_product)


class FIDPoint(TypedDict):
    n: int
    fid: float


class FIDInfinity(TypedDict):
    points: list[FIDPoint]
    slope: float
    intercept: float  # FID∞


def fid_at_sizes(
    real: np.ndarray | FeatureStatistics, synthetic: np.ndarray, sizes: list[int], *, seed: int = 0
) -> list[FIDPoint]:
    """FID of the whole real set against a fresh random subset of N synthetic images, for each N."""
    real, synthetic = _statistics(real), np.asarray(synthetic, dtype=np.float64)
    rng = np.random.default_rng(seed)
    points = []
    for n in sizes:
        if not MIN_IMAGES <= n <= len(synthetic):
            raise ValueError(f"subset size {n} is outside 2..{len(synthetic)} (the synthetic images)")
        subset = synthetic[rng.choice(len(synthetic), size=n, replace=False)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RankDeficientCovarianceWarning)  # the bias is what FID∞ removes
            points.append(FIDPoint(n=int(n), fid=fid(real, subset)))
    return points


def fid_infinity(
    real: np.ndarray | FeatureStatistics, synthetic: np.ndarray, sizes: list[int] | None = None, seed: int = 0
) -> FIDInfinity:
    """FID∞ (Chong & Forsyth 2020): fit FID = slope / N + intercept over subset sizes N; intercept = FID∞.

    ``sizes`` default to 15 sizes evenly spaced from a tenth of the synthetic set to all of it,
    as in the paper (5,000 to 50,000 there). Raises ValueError with fewer than 2 distinct sizes.
    """
    n = len(synthetic)
    if sizes is None:
        sizes = np.unique(np.linspace(max(MIN_IMAGES, n // 10), n, FID_INFINITY_POINTS).astype(int)).tolist()
    if len(set(sizes)) < 2:
        raise ValueError(f"FID∞ not computable: it needs FIDs at 2 or more subset sizes; {n} synthetic images give {len(set(sizes))}")
    points = fid_at_sizes(real, synthetic, sizes, seed=seed)
    slope, intercept = np.polyfit([1 / p["n"] for p in points], [p["fid"] for p in points], deg=1)
    return FIDInfinity(points=points, slope=float(slope), intercept=float(intercept))
