"""Growing and closing masks by a radius in one pass (a distance transform), not radius passes."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def grow(mask: np.ndarray, radius: float) -> np.ndarray:
    """Every pixel within ``radius`` of ``mask`` (a dilation by a Euclidean disk)."""
    if not mask.any():
        return mask.copy()
    return ndimage.distance_transform_edt(~mask) <= radius


def close(mask: np.ndarray, radius: float) -> np.ndarray:
    """Grow by ``radius``, then shrink by it: bridges gaps narrower than 2 × radius."""
    if not mask.any():
        return mask.copy()
    return ~grow(~grow(mask, radius), radius)
