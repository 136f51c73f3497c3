"""Render one phantom dermoscopy image with its lesion mask and complete ground truth.

Everything an image shows follows from (seed, FST, diagnosis, size): the seed is split into
independent streams for skin, lesion and each artefact, so turning an artefact on or off
(or leaving the lesion out) changes nothing else in the picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from .artefacts import (
    ARTEFACTS,
    add_bubbles,
    add_dermoscope_field,
    add_hairs,
    add_ink,
    add_ruler,
    add_vignetting,
)
from .colour import lab_to_linear_rgb, linear_rgb_to_srgb8
from .lesion import PAINTERS, PRIORS, LesionCanvas
from .pigment import apply_layers, colours_present
from .shape import random_outline, rasterize
from .skin import render_skin, sample_skin_tone

# The width of skin a phantom shows: a typical dermoscope field.
FIELD_OF_VIEW_MM = 20.0

# How often each artefact appears, roughly as in ISIC/HAM10000 dermoscopy.
DEFAULT_ARTEFACT_RATES = {"hair": 0.4, "field": 0.45, "vignetting": 0.6, "bubbles": 0.1, "ruler": 0.06, "ink": 0.05}


@dataclass
class Phantom:
    """A rendered image (H×W×3 uint8 sRGB), its lesion mask, each artefact's mask, the truth, its scale."""

    image: np.ndarray
    lesion_mask: np.ndarray
    artefact_masks: dict[str, np.ndarray] = field(default_factory=dict)
    truth: dict[str, object] = field(default_factory=dict)
    pixel_size_mm: float = 0.0


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0, 1)
    return x * x * (3 - 2 * x)


def render_phantom(
    seed: int,
    fst: int,
    diagnosis: str,
    size: int = 128,
    *,
    artefact_rates: dict[str, float] | None = None,
    lesion: bool = True,
) -> Phantom:
    """Render a phantom. ``artefact_rates`` gives each artefact's probability (1 forces it, 0 or
    absence turns it off); by default `DEFAULT_ARTEFACT_RATES`. ``lesion=False`` renders the
    same image without its lesion (for tests that compare the two)."""
    if fst not in range(1, 7):
        raise ValueError(f"fst must be 1-6, not {fst!r}")
    if diagnosis not in PAINTERS:
        raise ValueError(f"phantoms exist for {', '.join(PAINTERS)}; not {diagnosis!r}")
    if not 32 <= size <= 2048:
        raise ValueError(f"size must be between 32 and 2048 px, not {size}")
    rates = DEFAULT_ARTEFACT_RATES if artefact_rates is None else artefact_rates
    unknown = set(rates) - set(ARTEFACTS)
    if unknown:
        raise ValueError(f"unknown artefact(s) {sorted(unknown)}; known: {', '.join(ARTEFACTS)}")

    skin_seq, lesion_seq, choice_seq, *artefact_seqs = np.random.SeedSequence(seed).spawn(3 + len(ARTEFACTS))
    skin_rng, lesion_rng = np.random.default_rng(skin_seq), np.random.default_rng(lesion_seq)
    px_per_mm = size / FIELD_OF_VIEW_MM

    tone = sample_skin_tone(skin_rng, fst)
    linear = lab_to_linear_rgb(render_skin(skin_rng, tone, size))

    prior = PRIORS[diagnosis]
    diameter_mm = lesion_rng.uniform(*prior.diameter_mm)
    centre = tuple(size / 2 + lesion_rng.normal(0, 0.05 * size, 2))
    outline = random_outline(
        lesion_rng,
        centre,
        radius=diameter_mm * px_per_mm / 2,
        asymmetry=lesion_rng.uniform(*prior.asymmetry),
        irregularity=lesion_rng.uniform(*prior.irregularity),
        elongation=lesion_rng.uniform(*prior.elongation),
    )
    mask = rasterize(outline, size)
    inside = ndimage.distance_transform_edt(mask) - 0.5
    outside = ndimage.distance_transform_edt(~mask) - 0.5
    signed = np.where(mask, inside, -outside)
    edge_px = max(lesion_rng.uniform(*prior.edge_mm) * px_per_mm, 1.0)
    # Half strength exactly on the outline, so the mask is the drawn lesion's 50% contour.
    presence = _smoothstep(signed / edge_px + 0.5)
    depth = np.where(mask, inside / max(inside.max(), 1.0), 0.0)
    canvas = LesionCanvas(lesion_rng, mask, depth, centre, diameter_mm * px_per_mm / 2, px_per_mm, fst)
    layers = PAINTERS[diagnosis](canvas)
    if lesion:
        apply_layers(linear, layers, presence, fst)
    colours = colours_present(layers, mask)

    choice_rng = np.random.default_rng(choice_seq)
    draws = dict(zip(ARTEFACTS, choice_rng.random(len(ARTEFACTS)), strict=True))
    present = [name for name in ARTEFACTS if draws[name] < rates.get(name, 0.0)]
    rngs = {name: np.random.default_rng(s) for name, s in zip(ARTEFACTS, artefact_seqs, strict=True)}
    artefact_masks: dict[str, np.ndarray] = {}
    hair_count = 0
    for name in present:  # ARTEFACTS lists them in drawing order
        rng = rngs[name]
        if name == "hair":
            hair_count = int(rng.integers(2, 25))
            artefact_masks[name] = add_hairs(rng, linear, hair_count, fst)
        elif name == "ruler":
            artefact_masks[name] = add_ruler(rng, linear, px_per_mm)
        else:
            paint = {"bubbles": add_bubbles, "ink": add_ink, "vignetting": add_vignetting, "field": add_dermoscope_field}[name]
            artefact_masks[name] = paint(rng, linear)

    image = linear_rgb_to_srgb8(linear)
    truth = {
        "ita": round(tone.ita, 3),
        "skin_L": round(tone.L, 3),
        "skin_a": round(tone.a, 3),
        "skin_b": round(tone.b, 3),
        "asymmetry": round(outline.asymmetry, 4),
        "border_compactness": round(outline.compactness, 4),
        "diameter_px": round(outline.diameter_px, 2),
        "diameter_mm": round(outline.diameter_px / px_per_mm, 3),
        "lesion_area_px": int(mask.sum()),
        "colors": ";".join(colours),
        "n_colors": len(colours),
        "hairs": hair_count,
        "artefacts": ";".join(present),
    }
    return Phantom(image, mask, artefact_masks, truth, pixel_size_mm=round(1 / px_per_mm, 6))
