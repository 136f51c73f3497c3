"""The six dermoscopic colours as light, applied to skin in linear RGB.

Pigments absorb (Beer–Lambert: reflectance × exp(−weight · optical density per channel)):
melanin high in the epidermis looks light or dark brown or black, melanin deep in the dermis
blue-grey, haemoglobin red. White (regression, fibrosis, keratin) scatters: it pulls the
reflectance towards a light neutral. Because absorption multiplies what the skin already
reflects, and the epidermal melanin of darker skin also hides what lies beneath it, a pigmented
lesion's contrast falls on darker skin, as it does in real skin.
"""

from __future__ import annotations

import numpy as np

from ..dermoscopy import DERMOSCOPIC_COLOURS, PRESENT_FRACTION

OPTICAL_DENSITY = {
    "light_brown": np.array([0.45, 0.72, 1.05]),
    "dark_brown": np.array([1.10, 1.45, 1.80]),
    "black": np.array([2.70, 2.80, 2.80]),
    "blue_grey": np.array([0.85, 0.68, 0.42]),
    "red": np.array([0.12, 1.00, 0.80]),
}
WHITE_REFLECTANCE = np.array([0.80, 0.80, 0.78])

# How much of a lesion's pigment shows through the epidermis of each skin type.
PIGMENT_VISIBILITY = {1: 1.0, 2: 1.0, 3: 0.95, 4: 0.88, 5: 0.78, 6: 0.68}

# A colour counts as present in the ground truth when it reaches this weight on at least
# PRESENT_FRACTION of the lesion.
PRESENT_WEIGHT = 0.4


def apply_layers(linear: np.ndarray, layers, presence: np.ndarray, fst: int) -> None:
    """Paint colour layers onto a linear-RGB image in place; ``presence`` fades them at the border."""
    visibility = PIGMENT_VISIBILITY[fst]
    for colour, weight in layers:
        w = (np.clip(weight, 0, 1) * presence)[..., None]
        if colour == "white":
            linear += w * (WHITE_REFLECTANCE - linear)
        else:
            linear *= np.exp(-w * visibility * OPTICAL_DENSITY[colour])


def colours_present(layers, mask: np.ndarray) -> dict[str, float]:
    """The dermoscopic colours that cover enough of the lesion, with the fraction each covers."""
    area = max(int(mask.sum()), 1)
    strongest: dict[str, np.ndarray] = {}
    for colour, weight in layers:
        strongest[colour] = np.maximum(strongest.get(colour, 0), weight)
    fractions = {c: float(((w >= PRESENT_WEIGHT) & mask).sum()) / area for c, w in strongest.items()}
    return {c: f for c in DERMOSCOPIC_COLOURS if (f := fractions.get(c, 0.0)) >= PRESENT_FRACTION}
