"""ABCD features of a lesion, from its mask and its pixels.

- A, asymmetry: for each principal axis through the centroid, the share of the lesion not
  covered by its mirror image; the mean of the two (0 = mirror-symmetric).
- B, border: the compactness index P²/(4πA) (1 for a circle; the perimeter is Crofton's
  estimate, which does not overcount diagonal steps) and the box-counting fractal dimension of
  the outline (1 for a smooth curve, higher when ragged).
- C, colour: which of the six dermoscopic colours (light and dark brown, black, blue-grey, red,
  white) cover at least 3% of the lesion, judged against the patient's own skin colour, and the
  colour spread (mean CIELAB distance of lesion pixels to the lesion's median colour).
- D, diameter: the largest distance across the lesion (maximum Feret diameter), in pixels, as a
  fraction of the image's longer side (comparable across resolutions), and, where the image's scale
  is known, in millimetres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull
from skimage.measure import regionprops

from ..dermoscopy import DERMOSCOPIC_COLOURS, PRESENT_FRACTION


@dataclass(frozen=True)
class AbcdFeatures:
    asymmetry: float
    border_compactness: float
    border_fractal_dimension: float
    diameter_px: float
    diameter_mm: float | None
    diameter_relative: float  # of the image's longer side: unchanged by resizing the image
    colours: tuple[str, ...]
    colour_spread: float
    area_px: int

    @property
    def n_colours(self) -> int:
        return len(self.colours)


def mask_asymmetry(mask: np.ndarray) -> float:
    """Mean over the two principal axes of |S \\ mirror(S)| / |S| for a boolean raster S."""
    rows, cols = np.nonzero(mask)
    if rows.size < 3:
        return float("nan")
    points = np.stack([cols, rows], axis=1).astype(float)
    centroid = points.mean(axis=0)
    centred = points - centroid
    _, axes = np.linalg.eigh(np.cov(centred.T))
    scores = []
    for axis in axes.T:
        mirrored = np.rint(2 * (centred @ axis)[:, None] * axis[None, :] - centred + centroid).astype(int)
        inside = (mirrored >= 0).all(axis=1) & (mirrored[:, 0] < mask.shape[1]) & (mirrored[:, 1] < mask.shape[0])
        covered = np.zeros(len(points), dtype=bool)
        covered[inside] = mask[mirrored[inside, 1], mirrored[inside, 0]]
        scores.append(1.0 - covered.mean())
    return float(np.mean(scores))


def feret_diameter(mask: np.ndarray) -> float:
    """The largest distance between two pixel centres of the lesion (over its convex hull)."""
    rows, cols = np.nonzero(mask)
    points = np.stack([cols, rows], axis=1).astype(float)
    if len(points) < 3 or np.linalg.matrix_rank(points - points[0]) < 2:
        return float(np.ptp(points, axis=0).max()) if len(points) else 0.0
    hull = points[ConvexHull(points).vertices]
    return float(np.sqrt(((hull[:, None] - hull[None]) ** 2).sum(-1)).max())


def fractal_dimension(mask: np.ndarray) -> float:
    """Box-counting dimension of the outline of ``mask``."""
    padded = np.pad(mask, 1)
    outline = padded & ~(np.roll(padded, 1, 0) & np.roll(padded, -1, 0) & np.roll(padded, 1, 1) & np.roll(padded, -1, 1))
    rows, cols = np.nonzero(outline)
    if rows.size < 8:
        return float("nan")
    extent = max(np.ptp(rows), np.ptp(cols)) + 1
    sizes = [s for s in (1, 2, 4, 8, 16, 32, 64) if s <= extent / 4]
    if len(sizes) < 3:
        return float("nan")
    counts = [len(set(zip(rows // s, cols // s, strict=True))) for s in sizes]
    slope, _ = np.polyfit(np.log(sizes), np.log(counts), 1)
    return float(-slope)


def classify_colours(lesion_lab: np.ndarray, skin_lab: np.ndarray) -> np.ndarray:
    """Each lesion pixel's dermoscopic colour (an index into DERMOSCOPIC_COLOURS, -1 for skin-like).

    Judged against the patient's skin, since "dark brown" on type VI skin is not the dark brown
    of type I: lightness is compared with the skin's, hue and chroma taken as they are.
    """
    L, a, b = lesion_lab[..., 0], lesion_lab[..., 1], lesion_lab[..., 2]
    skin_L, skin_a, skin_b = skin_lab
    skin_hue = np.degrees(np.arctan2(skin_b, skin_a))
    skin_chroma = np.hypot(skin_a, skin_b)
    darker = skin_L - L
    chroma = np.hypot(a, b)
    hue = np.degrees(np.arctan2(b, a))
    label = np.full(L.shape, -1)
    # Melanin absorbs blue most, so brown keeps or raises the skin's hue; blood lowers it (red).
    brownish = (hue > skin_hue - 6) & (chroma > 8)
    label[brownish & (darker > 5)] = 0  # light brown
    label[brownish & (darker > 0.32 * skin_L)] = 1  # dark brown
    label[(darker > 0.7 * skin_L) | (L < 10)] = 2  # black
    label[(b < skin_b - 5) & (darker > 4) & (chroma < 0.8 * skin_chroma)] = 3  # blue-grey
    label[(hue < skin_hue - 8) & (a > skin_a + 8)] = 4  # red
    label[(L > skin_L + 8) & (chroma < 0.8 * skin_chroma)] = 5  # white
    return label


def abcd_features(mask: np.ndarray, lab: np.ndarray, skin_lab: np.ndarray, pixel_size_mm: float | None = None) -> AbcdFeatures:
    """ABCD features of the lesion ``mask`` in the CIELAB image ``lab``, whose skin colour is ``skin_lab``."""
    properties = regionprops(mask.astype(np.uint8))[0]
    area = int(properties.area)
    perimeter = properties.perimeter_crofton
    diameter = feret_diameter(mask)
    lesion = lab[mask]
    labels = classify_colours(lesion, np.asarray(skin_lab))
    shares = np.bincount(labels[labels >= 0], minlength=len(DERMOSCOPIC_COLOURS)) / max(area, 1)
    median = np.median(lesion, axis=0)
    return AbcdFeatures(
        asymmetry=mask_asymmetry(mask),
        border_compactness=float(perimeter**2 / (4 * np.pi * area)) if area else float("nan"),
        border_fractal_dimension=fractal_dimension(mask),
        diameter_px=diameter,
        diameter_mm=diameter * pixel_size_mm if pixel_size_mm else None,
        diameter_relative=diameter / max(mask.shape),
        colours=tuple(c for c, share in zip(DERMOSCOPIC_COLOURS, shares, strict=True) if share >= PRESENT_FRACTION),
        colour_spread=float(np.linalg.norm(lesion - median, axis=1).mean()),
        area_px=area,
    )
