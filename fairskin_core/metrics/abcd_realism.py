"""ABCD realism: do synthetic lesions have the shapes, borders, colours and sizes real ones have?

For each ABCD feature and each diagnosis, the two-sample Kolmogorov–Smirnov distance between
the real and the synthetic distributions (0 = identical, 1 = disjoint), with its p-value.
"""

from __future__ import annotations

import pandas as pd
from scipy.stats import ks_2samp

FEATURES = ("asymmetry", "border_compactness", "border_fractal_dimension", "diameter_px", "n_colours", "colour_spread")
MIN_PER_SIDE = 5


def abcd_realism(real: pd.DataFrame, synthetic: pd.DataFrame) -> list[dict]:
    """One row per (diagnosis, feature): KS distance and p-value, or why there is none."""
    rows = []
    for diagnosis in sorted(set(real["diagnosis"]) | set(synthetic["diagnosis"])):
        for feature in FEATURES:
            a = real.loc[real["diagnosis"] == diagnosis, feature].dropna()
            b = synthetic.loc[synthetic["diagnosis"] == diagnosis, feature].dropna()
            row = {"diagnosis": diagnosis, "feature": feature, "n_real": len(a), "n_synthetic": len(b)}
            if min(len(a), len(b)) < MIN_PER_SIDE:
                row.update(ks=None, p_value=None, note=f"fewer than {MIN_PER_SIDE} images on a side")
            else:
                test = ks_2samp(a.astype(float), b.astype(float))
                row.update(ks=float(test.statistic), p_value=float(test.pvalue), note="")
            rows.append(row)
    return rows
