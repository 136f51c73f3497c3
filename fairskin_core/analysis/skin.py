"""Selecting healthy skin: every pixel that is neither lesion nor artefact, with the reason for each exclusion.

Excluded, in order: the lesion (grown by a margin, since its rim fades into the skin), hairs,
the dermoscope's dark field, glare and bubbles, foreign colours (stickers, ink), and finally any
pixel whose colour is an outlier against the rest of the skin (ruler marks, translucent ruler
strips, ink halos, what the rules above missed). The outlier test runs on lighting-flattened
CIELAB, so a darker periphery is not mistaken for an outlier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from .artefacts import dark_field, foreign_colour, glare, hairs
from .illumination import quadratic_terms, robust_surface
from .morphology import grow

LESION_MARGIN = 0.03  # of the image's longer side
OUTLIER_DISTANCE = 3.5  # robust Mahalanobis distance in flattened CIELAB


@dataclass
class SkinSelection:
    """The healthy-skin mask and, per reason, the pixels excluded for it."""

    mask: np.ndarray
    excluded: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return float(self.mask.mean())


def _colour_outliers(lab: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    # Lighting changes mostly L*: flattening it alone keeps the vignetted rim from looking odd.
    flat = lab.copy()
    flat[..., 0] -= robust_surface(lab[..., 0], candidate, quadratic_terms(candidate.shape))
    sample = flat[candidate][::2]
    centre = np.median(sample, axis=0)
    mad = 1.4826 * np.median(np.abs(sample - centre), axis=0) + 0.3
    distance = np.linalg.norm((flat - centre) / mad, axis=-1)
    return distance > OUTLIER_DISTANCE


def select_skin(lab: np.ndarray, lesion: np.ndarray) -> SkinSelection:
    """Healthy skin of a CIELAB image whose lesion mask is ``lesion``."""
    margin = max(1, round(LESION_MARGIN * max(lesion.shape)))
    excluded = {
        "lesion": grow(lesion, margin),
        "hair": hairs(lab[..., 0]),
        "dark field": grow(dark_field(lab[..., 0]), margin),
        "glare": ndimage.binary_dilation(glare(lab), iterations=1),
        "foreign colour": ndimage.binary_dilation(foreign_colour(lab), iterations=1),
    }
    candidate = ~np.logical_or.reduce(list(excluded.values()))
    if candidate.sum() >= 50:
        excluded["colour outlier"] = _colour_outliers(lab, candidate) & candidate
        candidate &= ~excluded["colour outlier"]
    return SkinSelection(mask=candidate, excluded=excluded)
