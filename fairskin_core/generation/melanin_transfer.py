"""Physically based skin-tone transfer: a real photograph's skin and lesion given the melanin of another skin type.

No model and no GPU: optical density (`fairskin_core.skin_optics`), where a layer of melanin is
a shift of every pixel's density (Beer–Lambert), so adding it keeps everything else.

1. The photograph's healthy skin is found as the skin-type estimator finds it (lesion, hair,
   glare, ink and dark field excluded); no measurable skin: refused, with the reason.
2. The target is real: the healthy-skin median density of one annotated photograph of the
   target type, drawn by the seed from the middle fifth of that type by darkness (`skin_types.json`).
3. The gap from the source's skin to the target, split into melanin, haemoglobin and shading,
   is added to every pixel of skin *and* lesion, so the lesion darkens with its skin and keeps
   its contrast. Its weight falls to 0, feathered, on specular glare (light reflected by the
   surface never passes through melanin), the dermoscope's dark field and colours no skin or
   lesion has (blue, green, violet: ink, cloth, stickers).
4. Haemoglobin's variation around the skin (redness, erythema) is scaled by the ratio of the
   within-image spreads measured on real skin of the target type and of the type nearest the
   source's skin; under melanin the same haemoglobin shows less, as on real dark skin.

Shading, texture, hair, folds and the lesion's structure are not touched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from ..fst import FST_TYPES
from ..hashing import file_sha256
from ..manifest import PHYSICAL_TRANSFER
from ..skin_optics.density import ChromophoreBasis, density_to_srgb, srgb_to_density
from ..skin_type.evidence import FoundSkin, find_skin

SKIN_OPTICS = Path(__file__).resolve().parents[1] / "skin_optics" / "skin_types.json"
MODEL_ID = "fairskin-melanin-transfer"
FEATHER = 1.5  # px at the skin finder's scale: how softly the weight falls to 0 at glare and non-skin
SPECULAR_LEVEL = 245  # every channel at least this: light reflected by the surface (glare), not by the skin below it
NOT_SKIN_CHROMA = 12.0  # CIELAB chroma above which a hue outside SKIN_HUES is not skin
SKIN_HUES = (-40.0, 110.0)  # CIELAB hue angles of skin and lesions, from violet-red to yellow


class NoSkinError(ValueError):
    """The photograph has no healthy skin to measure: the transfer has no starting point."""


@dataclass(frozen=True)
class SkinOptics:
    """The fitted vectors and what real skin of each type looks like (`skin_optics/calibration.py`)."""

    basis: ChromophoreBasis
    per_type: dict
    model_hash: str  # first 16 hex digits of the file's SHA-256

    @classmethod
    def load(cls, path: str | Path = SKIN_OPTICS) -> SkinOptics:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no skin optics file; write one with "
                                    "`fairskin skin-type optics --fitzpatrick17k DIR --out FILE`")
        values = json.loads(path.read_text(encoding="utf-8"))
        return cls(ChromophoreBasis(tuple(values["basis"]["melanin"]), tuple(values["basis"]["haemoglobin"])),
                   {int(k): v for k, v in values["per_type"].items()}, file_sha256(path)[:16])

    def nearest_type(self, skin_density: np.ndarray) -> int:
        """The type whose real skin's median density is nearest ``skin_density``."""
        return min(self.per_type, key=lambda t: float(np.linalg.norm(np.subtract(self.per_type[t]["median_skin_density"], skin_density))))

    def reference(self, fst: int, seed: int) -> tuple[str, np.ndarray]:
        """One real photograph of type ``fst`` (its image id) and its skin's median density, drawn by ``seed``."""
        references = sorted(self.per_type[fst]["references"].items())
        image_id, density = references[np.random.default_rng(seed).integers(len(references))]
        return image_id, np.asarray(density, dtype=np.float32)


@lru_cache(maxsize=1)
def default_optics() -> SkinOptics:
    return SkinOptics.load()


def _not_skin(lab: np.ndarray) -> np.ndarray:
    """Colours neither skin nor a lesion has, however red or pale: blue, green and violet (ink, cloth, stickers, gel)."""
    hue = np.degrees(np.arctan2(lab[..., 2], lab[..., 1]))
    return (np.hypot(lab[..., 1], lab[..., 2]) > NOT_SKIN_CHROMA) & ((hue < SKIN_HUES[0]) | (hue > SKIN_HUES[1]))


def _weight(found: FoundSkin, rgb: np.ndarray) -> np.ndarray:
    """Per pixel of the full image, 0–1: how much of the added melanin it takes (module docstring, step 3)."""
    takes = found.field & ~_not_skin(found.lab)
    rows, columns = found.box
    weight = np.zeros(rgb.shape[:2], np.float32)
    weight[rows, columns] = np.asarray(Image.fromarray(ndimage.gaussian_filter(takes.astype(np.float32), FEATHER)).resize(
        (columns.stop - columns.start, rows.stop - rows.start), Image.Resampling.BILINEAR))
    glare = (rgb.min(axis=-1) >= SPECULAR_LEVEL).astype(np.float32)
    specular = ndimage.gaussian_filter(glare, FEATHER * rgb.shape[1] / found.small.shape[1])
    return weight * (1 - np.clip(2 * specular, 0, 1))


def transfer_melanin(rgb: np.ndarray, fst: int, seed: int, optics: SkinOptics | None = None) -> tuple[np.ndarray, dict]:
    """``rgb`` (H×W×3 uint8) with the skin of type ``fst``; the image and its parameters (what was added, from where)."""
    if fst not in FST_TYPES:
        raise ValueError(f"skin type {fst}: a Fitzpatrick type is 1-6 (I-VI)")
    optics = optics or default_optics()
    found = find_skin(rgb)
    if found.status != "ok":
        raise NoSkinError(f"no measurable skin ({found.status}: {found.message})")
    basis = optics.basis
    source_skin = np.median(srgb_to_density(found.small)[found.skin], axis=0)
    source_type = optics.nearest_type(source_skin)
    reference, target_skin = optics.reference(fst, seed)
    gap = basis.amounts(target_skin - source_skin)
    redness_scale = optics.per_type[fst]["haemoglobin_spread"] / optics.per_type[source_type]["haemoglobin_spread"]
    density = srgb_to_density(rgb)
    haemoglobin = density @ np.linalg.inv(basis.matrix)[1] - basis.amounts(source_skin)[1]
    change = (target_skin - source_skin) + (redness_scale - 1) * haemoglobin[..., None] * np.asarray(basis.haemoglobin, np.float32)
    result = density_to_srgb(density + _weight(found, rgb)[..., None] * change)
    return result, {"method": PHYSICAL_TRANSFER, "reference": reference, "melanin": round(float(gap[0]), 3),
                    "haemoglobin": round(float(gap[1]), 3), "shading": round(float(gap[2]), 3),
                    "redness_scale": round(float(redness_scale), 3), "source_type_by_colour": source_type}


class MelaninToneTransfer:
    """`transfer_melanin` as a method of `tone_transfer.tone_transfer_set`."""

    model_id = MODEL_ID

    def __init__(self, optics: SkinOptics | None = None):
        self.optics = optics or default_optics()
        self.model_hash = self.optics.model_hash

    def row_settings(self, fst: int, diagnosis: str) -> dict:
        return {}

    def transfer(self, images: list[np.ndarray], fst: list[int], diagnosis: list[str],
                 seeds: list[int]) -> list[tuple[np.ndarray, dict] | str]:
        results: list[tuple[np.ndarray, dict] | str] = []
        for image, target, seed in zip(images, fst, seeds, strict=True):
            try:
                results.append(transfer_melanin(image, target, seed, self.optics))
            except NoSkinError as exc:
                results.append(str(exc))
        return results
