"""ABCD realism: do synthetic lesions have the shapes, borders, colours and sizes real ones have?

For each ABCD feature and each diagnosis, the two-sample Kolmogorov–Smirnov distance between
the real and the synthetic distributions (0 = identical, 1 = disjoint), with its p-value.

Diameters are compared in millimetres when every image of the diagnosis on both sides has a known
pixel size, else as a fraction of each image's longer side: pixels would compare resolutions, not
lesions (a 64 px generator against 128 px photographs would halve every diameter). Each row says
which unit it used.
"""

from __future__ import annotations

import pandas as pd
from scipy.stats import ks_2samp

FEATURES = ("asymmetry", "border_compactness", "border_fractal_dimension", "diameter", "n_colours", "colour_spread")
MIN_PER_SIDE = 5
DIAMETER_UNITS = {"diameter_mm": "mm", "diameter_relative": "fraction of the image's longer side"}


def _diameter_column(real: pd.DataFrame, synthetic: pd.DataFrame) -> str:
    """Millimetres where both sides know every image's scale, else the size relative to the image."""
    measured = [frame.loc[frame["diameter_relative"].notna()] for frame in (real, synthetic) if "diameter_relative" in frame]
    if len(measured) == 2 and all("diameter_mm" in frame and len(frame) and frame["diameter_mm"].notna().all() for frame in measured):
        return "diameter_mm"
    return "diameter_relative"


def abcd_realism(real: pd.DataFrame, synthetic: pd.DataFrame) -> list[dict]:
    """One row per (diagnosis, feature): KS distance and p-value (and the unit of diameters), or why there is none."""
    rows = []
    for diagnosis in sorted(set(real["diagnosis"]) | set(synthetic["diagnosis"])):
        real_rows, synthetic_rows = real.loc[real["diagnosis"] == diagnosis], synthetic.loc[synthetic["diagnosis"] == diagnosis]
        for feature in FEATURES:
            column, unit = feature, ""
            if feature == "diameter":
                column = _diameter_column(real_rows, synthetic_rows)
                unit = DIAMETER_UNITS[column]
            a = real_rows[column].dropna() if column in real_rows else pd.Series(dtype=float)
            b = synthetic_rows[column].dropna() if column in synthetic_rows else pd.Series(dtype=float)
            row = {"diagnosis": diagnosis, "feature": feature, "unit": unit, "n_real": len(a), "n_synthetic": len(b)}
            if min(len(a), len(b)) < MIN_PER_SIDE:
                row.update(ks=None, p_value=None, note=f"fewer than {MIN_PER_SIDE} images on a side")
            else:
                test = ks_2samp(a.astype(float), b.astype(float))
                row.update(ks=float(test.statistic), p_value=float(test.pvalue), note="")
            rows.append(row)
    return rows
