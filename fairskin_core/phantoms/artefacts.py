"""What a dermoscope records besides skin and lesion: hairs, the dark field outside the lens,
uneven illumination, air bubbles and reflections, rulers and ink marks.

Each function paints onto a linear-RGB image in place and returns the mask of the pixels it
covered, so the skin-tone analysis can be tested on whether it excludes them.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .colour import lab_to_linear_rgb
from .noise import smooth_noise

# In drawing order: what lies on the skin first, then the light, then the lens's frame.
ARTEFACTS = ("hair", "bubbles", "ruler", "ink", "vignetting", "field")

_SUPERSAMPLE = 4


def _draw_supersampled(size: int, draw_fn) -> np.ndarray:
    """Rasterize shapes drawn by ``draw_fn(draw, factor)`` with 4× anti-aliasing; returns 0–1."""
    image = Image.new("L", (size * _SUPERSAMPLE, size * _SUPERSAMPLE), 0)
    draw_fn(ImageDraw.Draw(image), _SUPERSAMPLE)
    return np.asarray(image.resize((size, size), Image.Resampling.BOX), dtype=float) / 255.0


def _blend(linear: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> None:
    linear += alpha[..., None] * (colour - linear)


def add_hairs(rng: np.random.Generator, linear: np.ndarray, count: int, fst: int) -> np.ndarray:
    """Curved hairs crossing the field; dark, or fair on the lightest skin."""
    size = linear.shape[0]
    fair = fst <= 2 and rng.random() < 0.3
    lab = np.array([rng.uniform(45, 60), 6, 22]) if fair else np.array([rng.uniform(12, 30), 3, rng.uniform(2, 8)])
    colour = lab_to_linear_rgb(lab)
    curves = []
    for _ in range(count):
        start = rng.uniform(-0.1, 1.1, 2) * size
        direction = rng.uniform(0, 2 * np.pi)
        length = rng.uniform(0.3, 1.0) * size
        end = start + length * np.array([np.cos(direction), np.sin(direction)])
        bend = (start + end) / 2 + rng.normal(0, 0.15 * length, 2)
        t = np.linspace(0, 1, 48)[:, None]
        curves.append(((1 - t) ** 2 * start + 2 * (1 - t) * t * bend + t**2 * end, rng.uniform(0.5, 1.1) * size / 256 + 0.6))

    def draw(d, f):
        for points, width in curves:
            d.line([tuple(p) for p in points * f], fill=255, width=max(1, round(width * f)), joint="curve")

    alpha = _draw_supersampled(size, draw) * 0.95
    _blend(linear, alpha, colour)
    return alpha > 0.25


def add_dermoscope_field(rng: np.random.Generator, linear: np.ndarray) -> np.ndarray:
    """The dark area outside the dermoscope's circular field (dark corners)."""
    size = linear.shape[0]
    radius = rng.uniform(0.5, 0.68) * size
    cx, cy = size / 2 + rng.normal(0, 0.03 * size, 2)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    distance = np.hypot(xx - cx, yy - cy)
    outside = np.clip((distance - radius) / max(size / 128, 1.0) + 0.5, 0, 1)
    dark = lab_to_linear_rgb(np.array([rng.uniform(2, 8), 0.5, 1.0]))
    _blend(linear, outside, dark)
    return outside > 0.02


def add_vignetting(rng: np.random.Generator, linear: np.ndarray) -> np.ndarray:
    """Light falling off towards the edges (up to 12% at the corners)."""
    size = linear.shape[0]
    strength = rng.uniform(0.04, 0.12)
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size - 0.5
    falloff = 1 - strength * (xx**2 + yy**2) / 0.5
    linear *= falloff[..., None]
    return falloff < 1 - strength / 2


def add_bubbles(rng: np.random.Generator, linear: np.ndarray) -> np.ndarray:
    """Air bubbles in the immersion fluid: a bright rim and a specular reflection."""
    size = linear.shape[0]
    discs = []
    for _ in range(int(rng.integers(1, 5))):
        r = rng.uniform(0.015, 0.06) * size
        x, y = rng.uniform(0.1, 0.9, 2) * size
        discs.append((x, y, r))

    def rims(d, f):
        for x, y, r in discs:
            d.ellipse([(x - r) * f, (y - r) * f, (x + r) * f, (y + r) * f], outline=255, width=max(1, round(0.25 * r * f)))

    def glints(d, f):
        for x, y, r in discs:
            gx, gy, gr = x - 0.4 * r, y - 0.4 * r, 0.25 * r + 0.5
            d.ellipse([(gx - gr) * f, (gy - gr) * f, (gx + gr) * f, (gy + gr) * f], fill=255)

    def bodies(d, f):
        for x, y, r in discs:
            d.ellipse([(x - r) * f, (y - r) * f, (x + r) * f, (y + r) * f], fill=255)

    _blend(linear, 0.6 * _draw_supersampled(size, rims), np.array([0.85, 0.85, 0.85]))
    _blend(linear, _draw_supersampled(size, glints), np.array([1.0, 1.0, 1.0]))
    return _draw_supersampled(size, bodies) > 0.25


def add_ruler(rng: np.random.Generator, linear: np.ndarray, px_per_mm: float) -> np.ndarray:
    """A translucent millimetre scale along one edge, with a tick per mm and a long one per 5 mm."""
    size = linear.shape[0]
    width = rng.uniform(0.07, 0.11) * size
    ticks = np.arange(rng.uniform(0, px_per_mm), size, px_per_mm)
    strip = np.zeros((size, size))
    strip[: int(np.ceil(width)), :] = 1.0

    def draw(d, f):
        for i, x in enumerate(ticks):
            length = width * (0.8 if i % 5 == 0 else 0.45)
            d.line([(x * f, 0), (x * f, length * f)], fill=255, width=max(1, round(0.7 * f)))

    marks = _draw_supersampled(size, draw)
    turns = int(rng.integers(0, 4))
    strip, marks = np.rot90(strip, turns), np.rot90(marks, turns)
    _blend(linear, 0.35 * strip, np.array([0.9, 0.9, 0.88]))
    _blend(linear, 0.9 * marks, np.array([0.02, 0.02, 0.03]))
    return strip > 0


def add_ink(rng: np.random.Generator, linear: np.ndarray) -> np.ndarray:
    """Surgical-marker ink (gentian violet): a dotted arc or a few dots near the lesion."""
    size = linear.shape[0]
    cx, cy = size / 2, size / 2
    radius = rng.uniform(0.3, 0.45) * size
    start = rng.uniform(0, 2 * np.pi)
    angles = start + np.linspace(0, rng.uniform(0.6, 2.0), int(rng.integers(4, 12)))
    dot = rng.uniform(0.012, 0.025) * size + 0.7

    def draw(d, f):
        for a in angles:
            x, y = cx + radius * np.cos(a), cy + radius * np.sin(a)
            d.ellipse([(x - dot) * f, (y - dot) * f, (x + dot) * f, (y + dot) * f], fill=255)

    alpha = _draw_supersampled(size, draw) * np.clip(0.85 + 0.15 * smooth_noise(rng, (size, size), size / 20), 0, 1)
    linear *= np.exp(-alpha[..., None] * np.array([1.0, 1.7, 0.35]))
    return alpha > 0.25
