"""Lesion outlines with exactly known geometry: the A, B and D of the ABCD rule.

An outline is a closed polygon from a radial function
    r(φ) = R · (1 + e·cos 2(φ − θ)) · exp(a·low(φ) + b·high(φ))
where ``low`` (harmonics 1–3) breaks the symmetry, ``high`` (harmonics 4–48, falling as
k^-1.3) roughens the border and ``e`` elongates without breaking symmetry. The ground truth
is measured on the polygon itself, finer than any pixel mask:

- asymmetry: for each principal axis through the centroid, the area of the shape not
  covered by its mirror image, over the area; the mean of the two axes (0 = symmetric);
- border irregularity: the compactness index P²/(4πA) (1 for a circle);
- diameter: the largest distance between two points of the outline (maximum Feret), px.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy.spatial import ConvexHull

from ..analysis.abcd import mask_asymmetry

N_VERTICES = 720


@dataclass(frozen=True)
class Outline:
    """A lesion outline: polygon vertices (x, y) in pixels and its exact geometry."""

    vertices: np.ndarray
    asymmetry: float
    compactness: float
    diameter_px: float
    area_px: float


def _harmonics(rng: np.random.Generator, phi: np.ndarray, orders: np.ndarray, decay: float) -> np.ndarray:
    amplitudes = rng.standard_normal(len(orders)) * orders.astype(float) ** -decay
    phases = rng.uniform(0, 2 * np.pi, len(orders))
    series = (amplitudes[:, None] * np.cos(orders[:, None] * phi[None, :] + phases[:, None])).sum(axis=0)
    return series / series.std()


def random_outline(
    rng: np.random.Generator,
    centre: tuple[float, float],
    radius: float,
    asymmetry: float,
    irregularity: float,
    elongation: float,
) -> Outline:
    """Draw an outline around ``centre`` (x, y) with mean radius ``radius`` px."""
    phi = np.linspace(0, 2 * np.pi, N_VERTICES, endpoint=False)
    low = _harmonics(rng, phi, np.arange(1, 4), decay=0.0)
    high = _harmonics(rng, phi, np.arange(4, 49), decay=1.3)
    theta = rng.uniform(0, np.pi)
    r = radius * (1 + elongation * np.cos(2 * (phi - theta))) * np.exp(asymmetry * low + irregularity * high)
    vertices = np.stack([centre[0] + r * np.cos(phi), centre[1] + r * np.sin(phi)], axis=1)
    return measure_outline(vertices)


def _polygon_area_perimeter(vertices: np.ndarray) -> tuple[float, float]:
    x, y = vertices[:, 0], vertices[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    perimeter = float(np.linalg.norm(vertices - np.roll(vertices, -1, axis=0), axis=1).sum())
    return float(area), perimeter


def _asymmetry(vertices: np.ndarray, samples: int = 256) -> float:
    """The asymmetry of the outline, measured on a raster finer than any image of it."""
    low = vertices.min(axis=0)
    step = float((vertices.max(axis=0) - low).max()) / samples
    return mask_asymmetry(fill_polygon((vertices - low) / step, (samples + 2, samples + 2)))


def measure_outline(vertices: np.ndarray) -> Outline:
    """Exact geometry of a polygon outline."""
    area, perimeter = _polygon_area_perimeter(vertices)
    hull = vertices[ConvexHull(vertices).vertices]
    diameter = float(np.sqrt(((hull[:, None, :] - hull[None, :, :]) ** 2).sum(-1)).max())
    return Outline(
        vertices=vertices,
        asymmetry=_asymmetry(vertices),
        compactness=perimeter**2 / (4 * np.pi * area),
        diameter_px=diameter,
        area_px=area,
    )


def fill_polygon(vertices: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels (centres at integer x, y) inside a polygon given as (x, y) vertices."""
    image = Image.new("1", (shape[1], shape[0]), 0)
    ImageDraw.Draw(image).polygon([tuple(v) for v in vertices], fill=1)
    return np.asarray(image, dtype=bool)


def rasterize(outline: Outline, size: int) -> np.ndarray:
    """The lesion mask: the pixels inside the outline."""
    return fill_polygon(outline.vertices, (size, size))
