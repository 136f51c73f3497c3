"""The real-versus-real floor: the same metrics between two disjoint halves of the real set.

A generator's FID of 40 says little alone: FID carries a small-sample bias, and real images
differ among themselves. Two disjoint random halves of the real set, m images each, give what
a perfect generator would score at that size; the synthetic set subsampled to m and compared
with the same first half is the like-for-like figure beside it. No extra features are needed:
the report has them already.
"""

from __future__ import annotations

import warnings

import numpy as np

from .fid import RankDeficientCovarianceWarning, fid, small_sample_bias
from .kid import kid

KID_SUBSET = 1000


def _distance(a: np.ndarray, b: np.ndarray, seed: int) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
        value = float(fid(a, b))
    distance = kid(a, b, subset_size=min(KID_SUBSET, max(2, len(a) // 2)), seed=seed)
    return {"fid": value, "kid": {"mean": distance.mean, "std": distance.std}}


def real_floor(real_features: np.ndarray, synthetic_features: np.ndarray, seed: int = 0) -> dict:
    """FID and KID of real half A vs real half B, and of m synthetic images vs half A (m = half the real set, at most the synthetic set)."""
    m = min(len(real_features) // 2, len(synthetic_features))
    if m < 2:
        return {"n_each": m, "real_vs_real": None, "synthetic_vs_real": None, "fid_note": "",
                "note": "not computable: a floor needs at least 4 real images (two halves of 2)"}
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xF100]))
    order = rng.permutation(len(real_features))
    half_a, half_b = real_features[order[:m]], real_features[order[m : 2 * m]]
    synthetic = synthetic_features[rng.choice(len(synthetic_features), m, replace=False)]
    bias = small_sample_bias(m, real_features.shape[1])
    return {
        "n_each": m, "real_vs_real": _distance(half_a, half_b, seed), "synthetic_vs_real": _distance(synthetic, half_a, seed), "note": "",
        "fid_note": f"{bias}, equally on both lines; compare KID" if bias else "",
    }
