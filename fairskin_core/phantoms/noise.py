"""Smooth random fields: the raw material of skin texture, pigment patterns and lesion borders."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Zero-mean, unit-variance random field whose features are about ``scale`` pixels wide.

    Drawn on a coarse grid and upsampled with cubic splines, so the cost does not grow with
    ``scale`` the way a wide Gaussian filter's does. The field is the corner ``shape`` of
    ``ndimage.zoom(grid, scale, order=3, mode="grid-wrap", grid_mode=True)``, the same numbers,
    but only that corner is interpolated: the whole zoom is up to 4× as many pixels.
    """
    scale = max(float(scale), 1.0)
    coarse = (int(np.ceil(shape[0] / scale)) + 4, int(np.ceil(shape[1] / scale)) + 4)
    grid = ndimage.gaussian_filter(rng.standard_normal(coarse), 0.8, mode="wrap")
    # Each output pixel's position on the grid, computed as ndimage.zoom computes it in grid mode.
    step = [n / round(n * scale) for n in coarse]
    rows, cols = ((np.arange(length) + 0.5) * s - 0.5 for length, s in zip(shape, step, strict=True))
    field = ndimage.map_coordinates(grid, np.stack(np.meshgrid(rows, cols, indexing="ij")), order=3, mode="grid-wrap")
    field = field - field.mean()
    std = field.std()
    return field / std if std > 0 else field


def ridges(field: np.ndarray, width: float) -> np.ndarray:
    """Soft lines along the zero-crossings of a field: a network whose cells are the field's blobs."""
    return np.exp(-((field / width) ** 2))
