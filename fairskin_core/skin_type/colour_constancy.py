"""Shades of Gray colour constancy (Finlayson & Trezzi 2004), as ISIC classification pipelines use it.

The illuminant is estimated as the Minkowski p-norm mean of each channel over the pixels that
belong to the scene (not the dermoscope's dark field, not glare); dividing by it, von Kries
fashion, turns the estimated illuminant neutral. p = 6 is the value Barata et al. (2015) found
best on dermoscopy. The gains are normalised to keep the mean brightness, so exposure is left
to the estimator, and capped so one odd image cannot swing its colours without bound.
"""

from __future__ import annotations

import numpy as np

MINKOWSKI_P = 6
MAX_GAIN = 2.5  # per channel, against the mean of the three


def illuminant(rgb: np.ndarray, use: np.ndarray | None = None, p: int = MINKOWSKI_P) -> np.ndarray:
    """The estimated illuminant colour (3 values, unit mean) of an sRGB uint8 image, from the pixels in ``use``."""
    pixels = (rgb[use] if use is not None and use.any() else rgb.reshape(-1, 3)).astype(np.float64) / 255.0
    estimate = np.power(np.mean(np.power(pixels, p), axis=0), 1.0 / p) + 1e-6
    return estimate / estimate.mean()


def channel_gains(light: np.ndarray) -> np.ndarray:
    """The per-channel gains that make ``light`` neutral, capped at `MAX_GAIN` either way."""
    return np.clip(1.0 / light, 1.0 / MAX_GAIN, MAX_GAIN)


def shades_of_gray(rgb: np.ndarray, use: np.ndarray | None = None, p: int = MINKOWSKI_P) -> np.ndarray:
    """``rgb`` (uint8) as if lit by a neutral light, the light estimated over ``use``."""
    corrected = rgb.astype(np.float64) * channel_gains(illuminant(rgb, use, p))
    return np.clip(np.rint(corrected), 0, 255).astype(np.uint8)
