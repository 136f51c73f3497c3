"""CIELAB ↔ linear sRGB, so skin is specified in CIELAB (where ITA lives) and lit in linear light.

Same constants as scikit-image (D65, 2° observer, the sRGB matrix), so `skimage.color.rgb2lab`
on a rendered image gives back the CIELAB values we asked for.
"""

from __future__ import annotations

import numpy as np

D65_WHITE = np.array([0.95047, 1.0, 1.08883])
_XYZ_TO_LINEAR_RGB = np.array(
    [
        [3.24048134, -1.53715152, -0.49853633],
        [-0.96925495, 1.87599, 0.04155593],
        [0.05564664, -0.20404134, 1.05731107],
    ]
)
_DELTA = 6.0 / 29.0


def lab_to_linear_rgb(lab: np.ndarray) -> np.ndarray:
    """CIELAB (…, 3) → linear sRGB (…, 3), not clipped."""
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    xyz = np.where(f > _DELTA, f**3, 3 * _DELTA**2 * (f - 4.0 / 29.0)) * D65_WHITE
    return xyz @ _XYZ_TO_LINEAR_RGB.T


def linear_rgb_to_srgb8(linear: np.ndarray) -> np.ndarray:
    """Linear sRGB in [0, 1] → gamma-encoded 8-bit sRGB."""
    linear = np.clip(linear, 0.0, 1.0)
    encoded = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(linear, 1 / 2.4) - 0.055)
    return np.round(encoded * 255.0).astype(np.uint8)
