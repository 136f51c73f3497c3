"""Kernel Inception Distance (Bińkowski et al. 2018): the FID alternative that small sets can trust.

KID is the squared maximum mean discrepancy between two sets of Inception features under the
cubic polynomial kernel k(x, y) = (x·y / d + 1)³. Its estimator is unbiased, so unlike FID it
does not grow as the sets shrink, which is why the per-skin-type groups (often a few dozen
images) are compared by KID. As in the paper and torch-fidelity, it is averaged over random
subsets of equal size; the standard deviation over subsets says how much to trust the mean. Where
a subset has to be each whole set (two sets of two images), no subset differs from another, so
there is no spread to give: ``std`` is None, never a reassuring 0.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

MIN_IMAGES = 2
MAX_KERNEL_BYTES = 2**29  # kernels of the subsets' images computed once up to this size (float64)


class KID(NamedTuple):
    mean: float
    std: float | None  # None: every subset was the whole of both sets, so the subsets say nothing of the spread


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x·y / d + 1)³ for every row of ``x`` against every row of ``y``."""
    return (x @ y.T / x.shape[1] + 1) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² of two samples: within-set kernel means leave out the diagonal (k(x, x))."""
    return _mmd2_of_kernels(polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y))


def _mmd2_of_kernels(k_xx: np.ndarray, k_yy: np.ndarray, k_xy: np.ndarray) -> float:
    m, n = len(k_xx), len(k_yy)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2 * k_xy.mean())


def kid(
    features_a: np.ndarray, features_b: np.ndarray, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> KID:
    """KID mean and standard deviation over ``subsets`` random subsets of min(subset_size, n_a, n_b) images each
    (the whole sets once, with no standard deviation, where that is both sets' size)."""
    a, b = np.asarray(features_a, dtype=np.float64), np.asarray(features_b, dtype=np.float64)
    if min(len(a), len(b)) < MIN_IMAGES:
        raise ValueError(f"KID needs at least {MIN_IMAGES} images in each set; got {len(a)} and {len(b)}")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("features contain NaN rows (images that could not be read): keep only the rows of FeatureResult.ok")
    size = min(subset_size, len(a), len(b))
    if size == len(a) == len(b):
        return KID(mmd2_unbiased(a, b), None)
    rng = np.random.default_rng(seed)
    draws = [(rng.choice(len(a), size, replace=False), rng.choice(len(b), size, replace=False)) for _ in range(subsets)]
    rows_a, rows_b = np.unique(np.concatenate([i for i, _ in draws])), np.unique(np.concatenate([j for _, j in draws]))
    if (len(rows_a) + len(rows_b)) ** 2 * 8 > MAX_KERNEL_BYTES:  # too many images for their kernels: subset by subset
        values = [mmd2_unbiased(a[i], b[j]) for i, j in draws]
    else:  # each kernel value once, not once per subset that holds its pair: subsets index the kernels
        used_a, used_b = a[rows_a], b[rows_b]
        k_aa, k_bb, k_ab = polynomial_kernel(used_a, used_a), polynomial_kernel(used_b, used_b), polynomial_kernel(used_a, used_b)
        values = []
        for i, j in draws:
            i, j = np.searchsorted(rows_a, i), np.searchsorted(rows_b, j)
            values.append(_mmd2_of_kernels(k_aa[np.ix_(i, i)], k_bb[np.ix_(j, j)], k_ab[np.ix_(i, j)]))
    return KID(float(np.mean(values)), float(np.std(values)))
