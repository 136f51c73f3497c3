"""Skin colour as light absorbed by melanin and haemoglobin, in optical density (Tsumura et al. 1999, 2003).

Camera sRGB is decoded to linear light and turned into optical density, −log of the light each
channel received. Absorbances add in that space (Beer–Lambert), so a pixel's density is

    density = melanin · σ_melanin + haemoglobin · σ_haemoglobin + shading · (1, 1, 1)

the amounts of the skin's two chromophores times their density vectors, plus shading: light lost
equally in every channel (folds, curvature, exposure). Three channels, three unknowns: every
pixel decomposes exactly, and recomposes after its amounts are changed, so whatever is not a
chromophore amount — texture, hair, shading, the lesion's structure — comes back untouched.
The vectors are fitted to annotated photographs in `calibration.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DARKEST = 1e-4  # linear light below this is read as this: black has no finite density
_SRGB_TO_LINEAR = np.where((levels := np.arange(256) / 255.0) <= 0.04045, levels / 12.92,
                           ((levels + 0.055) / 1.055) ** 2.4).astype(np.float32)
_DENSITY_OF_LEVEL = -np.log(np.maximum(_SRGB_TO_LINEAR, DARKEST)).astype(np.float32)


def srgb_to_density(rgb: np.ndarray) -> np.ndarray:
    """Optical density (… × 3 float32) of sRGB pixels (… × 3 uint8)."""
    if rgb.dtype != np.uint8:
        raise ValueError(f"sRGB pixels must be uint8, not {rgb.dtype}")
    return _DENSITY_OF_LEVEL[rgb]


def density_to_srgb(density: np.ndarray) -> np.ndarray:
    """sRGB pixels (uint8) of optical densities: the inverse of `srgb_to_density` (up to rounding)."""
    linear = np.exp(-np.clip(density, 0.0, None))
    encoded = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(linear, 1 / 2.4) - 0.055)
    return np.clip(np.rint(encoded * 255), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class ChromophoreBasis:
    """The density vectors of melanin and haemoglobin (R, G, B); shading is (1, 1, 1)."""

    melanin: tuple[float, float, float]
    haemoglobin: tuple[float, float, float]

    def __post_init__(self) -> None:
        if abs(np.linalg.det(self.matrix)) < 1e-6:
            raise ValueError("the melanin, haemoglobin and shading vectors must be independent")

    @property
    def matrix(self) -> np.ndarray:
        """3 × 3: columns melanin, haemoglobin, shading."""
        return np.column_stack([self.melanin, self.haemoglobin, np.ones(3)]).astype(np.float32)

    def amounts(self, density: np.ndarray) -> np.ndarray:
        """(… × 3) melanin, haemoglobin and shading of each pixel's density."""
        return density @ np.linalg.inv(self.matrix).T

    def density(self, amounts: np.ndarray) -> np.ndarray:
        """The optical density of (… × 3) melanin, haemoglobin and shading amounts."""
        return amounts @ self.matrix.T
