"""Agreement between reviewers: Fleiss' kappa of the calls, Krippendorff's alpha of the realism scores."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pandas as pd

from .bootstrap import bootstrap_interval
from .jsonable import jsonable
from .ratings import ARMS, REALISM_LEVELS, checked_ratings

# Images rated by two or more reviewers that agreement needs. Both coefficients take chance
# agreement from the very images they measure (one image of two differing scores gives α = 0,
# κ = −1, whatever the reviewers did), and their only interval is the bootstrap over images,
# which from one image draws that image every time ("0.00, 95% CI 0.00–0.00"). Ten is also where
# the image bootstraps of the other statistics stop carrying a few-images warning.
MIN_AGREEMENT_IMAGES = 10


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' κ from an items × categories table of how many ratings fell in each category.

    Items may have different numbers of ratings n_i: κ = 1 − D_o / D_e with
    D_o = Σ_i (n_i² − Σ_j n_ij²) / n_i / Σ_i (n_i − 1) and D_e = 1 − Σ_j p_j², p_j the pooled
    share of category j. This is Fleiss (1971) when every n_i is equal and Fleiss & Cuzick (1979)
    for two categories. Items with fewer than two ratings carry no agreement and are left out.
    NaN when no item has two ratings or every rating falls in one category.
    Our own because statsmodels' fleiss_kappa assumes every image has the same number of ratings.
    """
    counts = np.asarray(counts, dtype=float)
    counts = counts[counts.sum(axis=1) >= 2]
    per_item = counts.sum(axis=1)
    if per_item.size == 0:
        return math.nan
    pooled = counts.sum(axis=0) / per_item.sum()
    expected = 1 - (pooled**2).sum()
    if expected <= 0:
        return math.nan
    observed = ((per_item**2 - (counts**2).sum(axis=1)) / per_item).sum() / (per_item - 1).sum()
    return float(1 - observed / expected)


def krippendorff_alpha_ordinal(counts: np.ndarray) -> float:
    """Krippendorff's α with the ordinal metric (Krippendorff 2011), from a units × ordered values table of counts.

    Computed by the `krippendorff` package. Units with fewer than two values hold no pair and are
    left out; missing values simply lower a unit's count. NaN when nothing is pairable or nothing
    varies (where the package would raise or divide by zero).
    """
    counts = np.asarray(counts, dtype=float)
    pairable = counts[counts.sum(axis=1) >= 2]
    if (pairable.sum(axis=0) > 0).sum() < 2:
        return math.nan
    return float(krippendorff.alpha(value_counts=pairable, level_of_measurement="ordinal"))


def call_agreement(ratings: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95) -> dict:
    """Fleiss' κ of the real / synthetic calls across reviewers, images as items."""
    return _call_agreement(checked_ratings(ratings), n_boot=n_boot, seed=seed, confidence=confidence)


def _call_agreement(table: pd.DataFrame, *, n_boot: int, seed: int, confidence: float) -> dict:
    """`call_agreement` of a checked table."""
    return _agreement(
        fleiss_kappa, _counts_per_image(table, "call", ARMS), n_boot, seed, confidence,
        statistic="fleiss_kappa",
        method="Fleiss' kappa; images rated by different numbers of reviewers weighted as in Fleiss & Cuzick (1979)",
    )


def realism_agreement(ratings: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95) -> dict:
    """Krippendorff's α (ordinal metric) of the realism scores across reviewers, images as units."""
    return _realism_agreement(checked_ratings(ratings), n_boot=n_boot, seed=seed, confidence=confidence)


def _realism_agreement(table: pd.DataFrame, *, n_boot: int, seed: int, confidence: float) -> dict:
    """`realism_agreement` of a checked table."""
    rated = table[table["realism"].notna()].assign(realism=lambda t: t["realism"].astype(int))
    return _agreement(
        krippendorff_alpha_ordinal, _counts_per_image(rated, "realism", tuple(REALISM_LEVELS)),
        n_boot, seed, confidence, statistic="krippendorff_alpha_ordinal",
        method="Krippendorff's alpha, ordinal metric (Krippendorff 2011)",
    )


def _counts_per_image(table: pd.DataFrame, column: str, categories: tuple) -> np.ndarray:
    """Images × categories: how many ratings of each image gave each answer."""
    per_image = table.groupby(["image", column]).size().unstack(fill_value=0)
    return per_image.reindex(columns=list(categories), fill_value=0).to_numpy(float)


def _agreement(
    coefficient, counts: np.ndarray, n_boot: int, seed: int, confidence: float, *, statistic: str, method: str
) -> dict:
    """An agreement coefficient with a bootstrap interval over images, or None and why (too few shared images, no variation)."""
    pairable = counts[counts.sum(axis=1) >= 2]
    result = {"statistic": statistic, "method": method, "n_images": len(pairable), "n_ratings": int(pairable.sum())}
    if len(pairable) < MIN_AGREEMENT_IMAGES:
        note = (f"not estimable: {len(pairable)} image{'' if len(pairable) == 1 else 's'} rated by two or more reviewers, "
                f"at least {MIN_AGREEMENT_IMAGES} needed")
    elif (pairable.sum(axis=0) > 0).sum() < 2:
        note = "every rating of the shared images is the same: with no variation, agreement beyond chance is undefined"
    else:
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, len(pairable), size=(n_boot, len(pairable)))
        replicates = np.array([coefficient(pairable[draw]) for draw in draws])
        interval = bootstrap_interval(coefficient(pairable), replicates, confidence, "variation")
        return jsonable({**result, **interval, "ci_method": "bootstrap over images (percentile)"})
    return {**result, "estimate": None, "ci_low": None, "ci_high": None, "note": note}
