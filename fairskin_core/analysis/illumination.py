"""Smooth surfaces fitted robustly over an image: uneven lighting, and the skin behind a lesion.

Dermoscopes light the centre of the field best; towards the edges skin looks darker, which
would bias any colour measured over the whole field. A quadratic surface, fitted to the skin
pixels with outliers (lesion, hairs) trimmed iteratively, models that fall-off.
"""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=8)
def quadratic_terms(shape: tuple[int, int]) -> np.ndarray:
    """Per pixel (1, x, y, x², y², xy), with x and y centred and scaled by the longer side (cached, read-only)."""
    height, width = shape
    yy, xx = np.mgrid[:height, :width]
    x = (xx - width / 2) / max(height, width)
    y = (yy - height / 2) / max(height, width)
    terms = np.stack([np.ones_like(x), x, y, x * x, y * y, x * y], axis=-1)
    terms.flags.writeable = False
    return terms


def robust_surface(
    values: np.ndarray,
    use: np.ndarray,
    terms: np.ndarray,
    *,
    iterations: int = 3,
    below: float = 2.0,
    above: float = 3.0,
    step: int = 4,
) -> np.ndarray:
    """A quadratic surface through ``values`` at the pixels in ``use``, trimming outliers each round.

    Pixels more than ``below`` robust SDs under the surface (darker: lesion, hair) or ``above``
    over it are dropped before refitting; every ``step``-th pixel in each direction is enough.
    """
    grid = np.zeros_like(use)
    grid[::step, ::step] = True
    sample = use & grid
    if sample.sum() < terms.shape[-1] * 4:
        return np.full(values.shape, np.median(values[use]) if use.any() else 0.0)
    x, y = terms[sample], values[sample]
    kept = np.ones(len(y), dtype=bool)
    for _ in range(iterations):
        coefficients, *_ = np.linalg.lstsq(x[kept], y[kept], rcond=None)
        residual = y - x @ coefficients
        spread = 1.4826 * np.median(np.abs(residual[kept] - np.median(residual[kept]))) + 1e-6
        refined = (residual > -below * spread) & (residual < above * spread)
        if refined.sum() < terms.shape[-1] * 4:
            break
        kept = refined
    coefficients, *_ = np.linalg.lstsq(x[kept], y[kept], rcond=None)
    return terms @ coefficients


def lighting_gain(linear_rgb: np.ndarray, skin: np.ndarray, max_gain: float = 1.3) -> np.ndarray:
    """Per-pixel gain that relights the field as if it all had the illumination of its centre.

    The fall-off is fitted on log-luminance over the skin pixels; the gain is capped so a poor
    fit (little skin) cannot change colours much.
    """
    luminance = linear_rgb @ np.array([0.2126, 0.7152, 0.0722])
    log_y = np.log(np.clip(luminance, 1e-4, None))
    surface = robust_surface(log_y, skin, quadratic_terms(skin.shape))
    centre = surface[skin.shape[0] // 2, skin.shape[1] // 2]
    return np.exp(np.clip(centre - surface, -np.log(max_gain), np.log(max_gain)))
