"""Phantom skin: a base colour drawn per Fitzpatrick type in CIELAB, plus texture.

The base colour's ITA lies inside the type's Kinyanjui range (`fairskin_core.fst`), kept
a small margin away from the thresholds so the phantom world's label is unambiguous; the
texture is shifted so that the median colour of the clean skin is exactly the base colour.
In this world FST is a function of ITA by construction — real skin is not that tidy, which
is why the skin-tone analysis also has a calibrated mapping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..fst import KINYANJUI_ITA_RANGES
from .noise import ridges, smooth_noise

# Degrees kept between a sampled ITA and the type's thresholds.
ITA_MARGIN = 1.5
# Lowest and highest ITA drawn for the open-ended types I and VI (ITA of real skin rarely
# exceeds ~65° or falls below ~-50°), and the highest for VI, kept clear of type V's look.
ITA_FLOOR, ITA_CEILING = -50.0, 64.0
TYPE_VI_CEILING = 5.0
# b* (yellowness) and a* (redness) of skin by type, from the spread of published
# colorimetry (Chardon 1991; Del Bino 2013): chroma rises from type I to V.
SKIN_B_RANGE = {1: (10.0, 14.0), 2: (13.0, 17.0), 3: (15.0, 19.0), 4: (16.0, 21.0), 5: (17.0, 22.0), 6: (14.0, 20.0)}
SKIN_A_RANGE = {1: (6.0, 11.0), 2: (7.0, 12.0), 3: (7.0, 12.0), 4: (8.0, 12.0), 5: (8.0, 13.0), 6: (8.0, 12.0)}


def phantom_ita_range(fst: int) -> tuple[float, float]:
    """The ITA interval the renderer draws type ``fst`` from: its Kinyanjui range minus margins."""
    low, high = KINYANJUI_ITA_RANGES[fst]
    low = max(low + ITA_MARGIN, ITA_FLOOR)
    high = min(high - ITA_MARGIN, ITA_CEILING, TYPE_VI_CEILING if fst == 6 else 90.0)
    return low, high


@dataclass(frozen=True)
class SkinTone:
    """A skin base colour in CIELAB and its individual typology angle (degrees)."""

    fst: int
    ita: float
    L: float
    a: float
    b: float

    @property
    def lab(self) -> np.ndarray:
        return np.array([self.L, self.a, self.b])


def sample_skin_tone(rng: np.random.Generator, fst: int) -> SkinTone:
    """Draw a base skin colour of type ``fst``: ITA and b* first, then L* = 50 + b*·tan(ITA)."""
    ita = rng.uniform(*phantom_ita_range(fst))
    b = rng.uniform(*SKIN_B_RANGE[fst])
    a = rng.uniform(*SKIN_A_RANGE[fst])
    L = 50.0 + b * math.tan(math.radians(ita))
    return SkinTone(fst=fst, ita=ita, L=L, a=a, b=b)


def render_skin(rng: np.random.Generator, tone: SkinTone, size: int) -> np.ndarray:
    """A size×size CIELAB image of skin: blotchy melanin/haemoglobin, surface furrows, fine grain."""
    shape = (size, size)
    lab = np.empty(shape + (3,))
    blotch = smooth_noise(rng, shape, size / 5)
    redness = smooth_noise(rng, shape, size / 7)
    # Furrows: the zero-crossings of a band-passed field form the rhombic skin-line network.
    furrows = ridges(smooth_noise(rng, shape, size / 36), 0.12)
    furrows -= np.median(furrows)
    grain = smooth_noise(rng, shape, 1.2)
    lab[..., 0] = tone.L + 0.9 * blotch - 1.3 * furrows + 0.6 * grain
    lab[..., 1] = tone.a + 1.2 * redness + 0.3 * blotch
    lab[..., 2] = tone.b + 0.8 * blotch + 0.3 * grain
    # Pin the medians to the base colour: the ground-truth ITA is that of the median skin colour.
    lab -= np.median(lab.reshape(-1, 3), axis=0) - tone.lab
    return lab
