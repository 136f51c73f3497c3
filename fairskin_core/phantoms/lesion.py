"""Phantom lesions: per-diagnosis priors and the dermoscopic colours and structures they paint.

A painter returns colour layers (a dermoscopic colour and where it is, 0–1); `pigment.py`
applies them to the skin. The priors follow the dermoscopy textbooks loosely: melanoma is
large, asymmetric, irregular and many-coloured (atypical network, blotches, blue-white veil,
regression); a nevus small, symmetric, one or two browns with a regular network or globules;
basal cell carcinoma pink with arborizing vessels and blue-grey ovoid nests; seborrheic
keratosis sharply demarcated and brown with cerebriform furrows, milia-like cysts and
comedo-like openings; dermatofibroma a delicate peripheral network around a white patch;
vascular lesions red-purple lacunae.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from .noise import ridges, smooth_noise


@dataclass(frozen=True)
class LesionPrior:
    """Ranges the renderer draws a lesion's geometry from (uniformly)."""

    diameter_mm: tuple[float, float]
    asymmetry: tuple[float, float]
    irregularity: tuple[float, float]
    elongation: tuple[float, float]
    edge_mm: tuple[float, float]  # width of the fade at the border


@dataclass
class LesionCanvas:
    """What a painter knows about the lesion it paints."""

    rng: np.random.Generator
    mask: np.ndarray  # bool, the lesion
    depth: np.ndarray  # 0 at the border, 1 at the deepest point, 0 outside
    centre: tuple[float, float]  # (x, y) px
    radius: float  # mean radius, px
    px_per_mm: float
    fst: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.mask.shape

    def noise(self, scale_mm: float) -> np.ndarray:
        return smooth_noise(self.rng, self.shape, scale_mm * self.px_per_mm)

    def patch(self, coverage: float, scale_mm: float) -> np.ndarray:
        """A soft random region covering about ``coverage`` of the lesion."""
        field = self.noise(scale_mm)
        threshold = np.quantile(field[self.mask], 1 - coverage)
        return np.clip((field - threshold) * 2.5, 0, 1)

    def dots(self, count: int, radius_mm: float, where: np.ndarray | None = None) -> np.ndarray:
        """Round dots/globules, placed at random lesion pixels weighted by ``where``."""
        weights = (where if where is not None else np.ones(self.shape))[self.mask].astype(float) + 1e-9
        rows, cols = np.nonzero(self.mask)
        picks = self.rng.choice(len(rows), size=min(count, len(rows)), p=weights / weights.sum())
        layer = np.zeros(self.shape)
        layer[rows[picks], cols[picks]] = 1.0
        radius = max(radius_mm * self.px_per_mm, 0.6)
        distance = ndimage.distance_transform_edt(layer == 0)
        return np.clip(radius + 0.5 - distance, 0, 1)

    def strokes(self, paths: list[np.ndarray], width_px: float) -> np.ndarray:
        """Anti-aliased polylines (x, y): vessels, streaks, lines."""
        factor = 4
        image = Image.new("L", (self.shape[1] * factor, self.shape[0] * factor), 0)
        draw = ImageDraw.Draw(image)
        for path in paths:
            draw.line([tuple(p) for p in path * factor], fill=255, width=max(1, round(width_px * factor)), joint="curve")
        small = image.resize((self.shape[1], self.shape[0]), Image.Resampling.BOX)
        return np.asarray(small, dtype=float) / 255.0


Layer = tuple[str, np.ndarray]
Painter = Callable[[LesionCanvas], list[Layer]]


def _branching_vessels(canvas: LesionCanvas, trunks: int) -> list[np.ndarray]:
    """Arborizing vessels: random walks from the periphery inward that fork and thin."""
    rng, paths = canvas.rng, []
    cx, cy = canvas.centre
    step = max(canvas.radius / 14, 0.8)
    stack = []
    for _ in range(trunks):
        angle = rng.uniform(0, 2 * np.pi)
        start = np.array([cx + 0.85 * canvas.radius * np.cos(angle), cy + 0.85 * canvas.radius * np.sin(angle)])
        stack.append((start, angle + np.pi + rng.normal(0, 0.4), 12, 0))
    while stack:
        point, heading, length, generation = stack.pop()
        path = [point]
        for _ in range(length):
            heading += rng.normal(0, 0.35)
            point = point + step * np.array([np.cos(heading), np.sin(heading)])
            path.append(point)
            if generation < 3 and rng.random() < 0.12:
                stack.append((point, heading + rng.choice([-1, 1]) * rng.uniform(0.5, 1.1), max(length // 2, 3), generation + 1))
        paths.append(np.array(path))
    return paths


def paint_nevus(c: LesionCanvas) -> list[Layer]:
    layers: list[Layer] = [("light_brown", np.clip(0.75 + 0.2 * c.noise(1.5), 0, 1))]
    pattern = c.rng.choice(["reticular", "globular", "homogeneous"], p=[0.55, 0.25, 0.20])
    if pattern == "reticular":
        network = ridges(c.noise(0.45), 0.45) * np.clip(1.4 * c.depth + 0.2, 0, 1)
        layers.append(("dark_brown", 0.85 * network))
    elif pattern == "globular":
        layers.append(("dark_brown", c.dots(int(c.rng.integers(12, 30)), 0.12)))
    if c.rng.random() < 0.5:
        layers.append(("dark_brown", 0.8 * np.clip((c.depth - 0.35) * 2.0, 0, 1)))
    return layers


def paint_melanoma(c: LesionCanvas) -> list[Layer]:
    rng = c.rng
    layers: list[Layer] = [("light_brown", np.clip(0.7 + 0.35 * c.noise(1.0), 0.2, 1))]
    thickness = 0.3 + 0.4 * np.clip(c.noise(1.5), 0, None)
    atypical_network = ridges(c.noise(0.5), thickness) * c.patch(0.7, 1.2)
    layers.append(("dark_brown", 0.95 * atypical_network))
    layers.append(("dark_brown", c.patch(rng.uniform(0.2, 0.4), 1.2)))
    extras = [colour for colour, p in (("black", 0.65), ("blue_grey", 0.55), ("red", 0.3), ("white", 0.35)) if rng.random() < p]
    if not extras:
        extras = [rng.choice(["black", "blue_grey", "white"])]
    periphery = np.clip(1.2 - c.depth * 1.5, 0, 1) * c.mask
    for colour in extras:
        if colour == "black":
            layers.append(("black", np.maximum(c.dots(int(rng.integers(8, 25)), 0.12, periphery), 0.9 * c.patch(0.08, 0.6))))
        elif colour == "blue_grey":
            layers.append(("blue_grey", 0.9 * c.patch(rng.uniform(0.15, 0.3), 1.0)))
        elif colour == "red":
            layers.append(("red", 0.7 * c.patch(rng.uniform(0.1, 0.2), 0.8)))
        else:  # regression: white scar-like area peppered with blue-grey granules
            regression = c.patch(rng.uniform(0.12, 0.25), 1.0)
            layers.append(("white", 0.75 * regression))
            layers.append(("blue_grey", 0.8 * c.dots(int(rng.integers(10, 25)), 0.06, regression) * regression))
    return layers


def paint_basal_cell_carcinoma(c: LesionCanvas) -> list[Layer]:
    rng = c.rng
    layers: list[Layer] = [("red", 0.3 + 0.1 * np.clip(c.noise(1.0), -1, 1))]
    # BCC is more often pigmented on darker skin.
    pigmented = rng.random() < (0.2, 0.2, 0.3, 0.45, 0.6, 0.7)[c.fst - 1]
    if pigmented or rng.random() < 0.5:
        layers.append(("blue_grey", c.dots(int(rng.integers(2, 7)), rng.uniform(0.35, 0.7))))
    if pigmented:
        layers.append(("dark_brown", 0.85 * c.patch(rng.uniform(0.1, 0.25), 0.5) * np.clip(1.3 - c.depth * 2, 0, 1)))
    if rng.random() < 0.3:
        ulcer = c.patch(rng.uniform(0.08, 0.18), 1.2) * np.clip(c.depth * 3, 0, 1)
        layers.append(("red", 0.9 * ulcer))
        layers.append(("dark_brown", 0.7 * ulcer))
    if rng.random() < 0.4:
        layers.append(("white", 0.7 * c.strokes(_branching_vessels(c, 2), max(0.1 * c.px_per_mm, 1.0))))
    vessels = c.strokes(_branching_vessels(c, int(rng.integers(2, 5))), max(0.07 * c.px_per_mm, 0.8))
    layers.append(("red", vessels))
    return layers


def paint_seborrheic_keratosis(c: LesionCanvas) -> list[Layer]:
    rng = c.rng
    layers: list[Layer] = [("light_brown", np.clip(0.85 + 0.15 * c.noise(1.5), 0, 1))]
    layers.append(("dark_brown", np.clip(0.45 + 0.35 * c.noise(1.2), 0, 1)))
    furrows = ridges(c.noise(0.7), 0.35)
    layers.append(("dark_brown", 0.9 * furrows))
    if rng.random() < 0.2:
        layers.append(("black", 0.9 * c.patch(0.08, 0.5)))
    if rng.random() < 0.6:
        layers.append(("white", c.dots(int(rng.integers(4, 14)), rng.uniform(0.12, 0.2))))
    if rng.random() < 0.6:
        layers.append(("dark_brown", c.dots(int(rng.integers(4, 14)), rng.uniform(0.1, 0.18))))
    return layers


def paint_dermatofibroma(c: LesionCanvas) -> list[Layer]:
    network = ridges(c.noise(0.45), 0.5)
    layers: list[Layer] = [
        ("light_brown", np.clip(0.55 + 0.2 * c.noise(1.0), 0.2, 1)),
        ("light_brown", 0.7 * network * np.clip(1.6 - 1.8 * c.depth, 0, 1)),
        ("white", 0.6 * np.clip((c.depth - 0.35) * 2.5, 0, 1) * np.clip(0.8 + 0.3 * c.noise(0.8), 0, 1)),
    ]
    if c.rng.random() < 0.3:
        layers.append(("red", 0.35 * np.clip(c.noise(1.0), 0, 1)))
    return layers


def paint_vascular_lesion(c: LesionCanvas) -> list[Layer]:
    radius_mm = c.rng.uniform(0.25, 0.45)
    count = int(0.8 * c.mask.sum() / (np.pi * (radius_mm * c.px_per_mm) ** 2)) + 3
    lacunae = c.dots(count, radius_mm)
    layers: list[Layer] = [("red", 0.5 + 0.5 * lacunae), ("white", 0.35 * (1 - lacunae))]
    if c.rng.random() < 0.5:
        layers.append(("blue_grey", 0.85 * lacunae * c.patch(0.35, 1.2)))
    return layers


PRIORS: dict[str, LesionPrior] = {
    "melanoma": LesionPrior((6.0, 14.0), (0.10, 0.28), (0.05, 0.14), (0.0, 0.25), (0.15, 0.6)),
    "nevus": LesionPrior((3.0, 7.0), (0.0, 0.06), (0.0, 0.03), (0.0, 0.2), (0.2, 0.5)),
    "basal_cell_carcinoma": LesionPrior((4.0, 12.0), (0.05, 0.18), (0.03, 0.09), (0.0, 0.3), (0.2, 0.5)),
    "seborrheic_keratosis": LesionPrior((5.0, 14.0), (0.03, 0.14), (0.02, 0.07), (0.0, 0.3), (0.03, 0.12)),
    "dermatofibroma": LesionPrior((4.0, 8.0), (0.0, 0.06), (0.0, 0.03), (0.0, 0.15), (0.3, 0.7)),
    "vascular_lesion": LesionPrior((3.0, 8.0), (0.0, 0.08), (0.0, 0.04), (0.0, 0.2), (0.05, 0.2)),
}

PAINTERS: dict[str, Painter] = {
    "melanoma": paint_melanoma,
    "nevus": paint_nevus,
    "basal_cell_carcinoma": paint_basal_cell_carcinoma,
    "seborrheic_keratosis": paint_seborrheic_keratosis,
    "dermatofibroma": paint_dermatofibroma,
    "vascular_lesion": paint_vascular_lesion,
}

PHANTOM_DIAGNOSES = tuple(PAINTERS)
