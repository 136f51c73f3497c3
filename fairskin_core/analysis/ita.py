"""The individual typology angle (ITA) of healthy skin, and the Chardon / Del Bino categories.

ITA = arctan((L* − 50) / b*) · 180/π (Chardon et al. 1991), in CIELAB under D65 as scikit-image
computes it from sRGB. We use arctan, as the definition does, not atan2: the two agree whenever
b* > 0, which is true of all skin (it is yellowish); they differ only for b* ≤ 0, where atan2
would return angles beyond ±90° that belong to no skin category. A skin colour with b* ≤ 0
therefore has no ITA (grey-scale or mis-coloured image), rather than a misleading one.

The value reported is the ITA of the median skin colour (median L*, median b*), robust to the
few mis-selected pixels that remain; the spread is the interquartile range of per-pixel ITA.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Chardon et al. 1991 / Del Bino et al. 2006: lower bounds in degrees, lightest first.
CHARDON_CATEGORIES = (
    ("very light", 55.0),
    ("light", 41.0),
    ("intermediate", 28.0),
    ("tan", 10.0),
    ("brown", -30.0),
    ("dark", -90.0),
)
MIN_SKIN_B = 2.0  # below this b*, a "skin" colour is grey or blue: no ITA


@dataclass(frozen=True)
class ItaMeasurement:
    ita: float  # degrees
    spread: float  # interquartile range of per-pixel ITA, degrees
    L: float
    b: float
    pixels: int


def ita_degrees(L, b):
    """ITA in degrees from L* and b* (arrays or scalars); b* must be positive."""
    return np.degrees(np.arctan((np.asarray(L) - 50.0) / np.asarray(b)))


def measure_ita(skin_lab: np.ndarray) -> ItaMeasurement | None:
    """ITA of the median of the skin pixels' CIELAB (N×3); None when they are not skin-coloured."""
    L, b = skin_lab[:, 0], skin_lab[:, 2]
    median_L, median_b = float(np.median(L)), float(np.median(b))
    if median_b <= MIN_SKIN_B:
        return None
    positive = b > MIN_SKIN_B
    per_pixel = ita_degrees(L[positive], b[positive])
    q1, q3 = np.percentile(per_pixel, [25, 75]) if per_pixel.size else (np.nan, np.nan)
    return ItaMeasurement(float(ita_degrees(median_L, median_b)), float(q3 - q1), median_L, median_b, len(skin_lab))


def chardon_category(ita: float) -> str:
    for name, lower in CHARDON_CATEGORIES:
        if ita > lower:
            return name
    return CHARDON_CATEGORIES[-1][0]
