"""Finding what is not skin in a dermoscopic image: hairs, the dark field, glare, stickers, ink and rulers.

All work on CIELAB arrays (L* 0–100) and return boolean masks of the same height and width.
Sizes are relative to the image, so the same rules hold at 160 px and at 1024 px.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# Skin, whatever its type, is yellowish red: CIELAB hue between about 10° and 90°, moderate
# chroma. Calibration stickers (blue, green, yellow, orange), surgical ink (purple) and blue
# gel fall outside. Lesions can be redder or greyer, so the rule for "not skin or lesion" is wider.
SKIN_OR_LESION_HUE = (-10.0, 105.0)
MAX_CHROMA = 45.0


def hairs(L: np.ndarray, min_depth: float = 10.0) -> np.ndarray:
    """Thin dark lines: where a morphological closing (black-hat) lifts L* by ``min_depth`` or more.

    The closing's square window (separable, so fast) is wider than a hair, narrower than a lesion.
    """
    width = 2 * max(2, round(max(L.shape) / 64)) + 1
    blackhat = ndimage.grey_closing(L, size=(width, width)) - L
    return ndimage.binary_dilation(blackhat > min_depth, iterations=1)


def dark_field(L: np.ndarray, darkest: float = 22.0) -> np.ndarray:
    """The dermoscope's black surround: very dark pixels connected to the image border."""
    dark = L < darkest
    labels, _ = ndimage.label(dark)
    edge = np.unique(np.r_[labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    return np.isin(labels, edge[edge > 0])


def glare(lab: np.ndarray) -> np.ndarray:
    """Specular highlights and bubble rims: near-white and nearly colourless."""
    return (lab[..., 0] > 92) & (np.hypot(lab[..., 1], lab[..., 2]) < 12)


def foreign_colour(lab: np.ndarray) -> np.ndarray:
    """Colours neither skin nor lesion can have: stickers, ink, gel (by hue and chroma)."""
    hue = np.degrees(np.arctan2(lab[..., 2], lab[..., 1]))
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    return (chroma > MAX_CHROMA) | (hue < SKIN_OR_LESION_HUE[0]) | (hue > SKIN_OR_LESION_HUE[1])


def edge_strip(lab: np.ndarray, max_depth: float = 0.25, straight: float = 0.8) -> np.ndarray:
    """A ruler or tape along an image edge: rows (or columns) from that edge inwards that end, all along the edge at
    the same depth, in a sharp step to skin far more colourful and darker. A lesion's edge is curved: at any depth it
    crosses only some of the columns, so it is never taken for a strip; skin paling towards the edge has no step."""
    L, chroma = lab[..., 0], np.hypot(lab[..., 1], lab[..., 2])
    strip = np.zeros(L.shape, dtype=bool)
    for turns in range(4):  # each edge in turn, as the top rows of the image rotated
        rows_L, rows_chroma = np.rot90(L, turns), np.rot90(chroma, turns)
        for depth in range(2, int(max_depth * len(rows_L)) + 1):
            inside, beyond = slice(depth - 2, depth), slice(depth + 1, depth + 3)  # one row left for the step itself
            step = ((rows_chroma[inside].mean(axis=0) < 0.65 * rows_chroma[beyond].mean(axis=0))
                    & (rows_L[inside].mean(axis=0) > rows_L[beyond].mean(axis=0) + 5))
            if step.mean() >= straight:
                np.rot90(strip, turns)[:depth] = True  # a view: marks ``strip`` itself
                break
    return strip


def inpaint(lab: np.ndarray, holes: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    """Fill ``holes`` (hairs) from their surroundings: a Gaussian average of the pixels around them."""
    keep = (~holes).astype(float)
    weight = ndimage.gaussian_filter(keep, sigma) + 1e-6
    filled = lab.copy()
    for channel in range(lab.shape[-1]):
        smooth = ndimage.gaussian_filter(lab[..., channel] * keep, sigma) / weight
        filled[..., channel] = np.where(holes, smooth, lab[..., channel])
    return filled
