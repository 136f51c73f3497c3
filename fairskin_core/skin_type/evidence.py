"""What the skin-type estimator looks at in one image, or why it cannot look.

1. The dermoscope's dark field is cropped away (the bounding box of the lit field); an image
   that is mostly dark field is refused.
2. The lesion is segmented and healthy skin selected (hairs, glare, stickers, ink and rulers
   excluded: `fairskin_core.analysis.skin`), at a small scale: the lesion is not skin, so the
   network's features are pooled over the skin only, and colour is measured on the skin only.
3. Shades of Gray colour constancy, estimated over the lit field, gives the skin's colour under a
   neutral light; the network sees the skin's colour both as photographed and balanced (its
   image input stays as photographed: balancing a frame filled with skin greys the skin itself,
   and a linear probe on frozen features read tone worse from balanced images: 84.5% against 86.3%
   within one type).
4. Refusals, each with its reason: too small, not a colour image, mostly dark field, too little
   skin, and a skin colour no skin has under a neutral light (grey or blue).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from skimage.color import rgb2lab

from ..analysis.artefacts import dark_field, glare
from ..analysis.ita import MIN_SKIN_B
from ..analysis.segmentation import segment_lesion
from ..analysis.skin import select_skin
from .colour_constancy import shades_of_gray

MASK_SIDE = 96  # skin selection runs at this long side: a tone needs no more
NETWORK_SIDE = 192  # the network's square input (a multiple of 32)
MIN_SIDE = 32
MIN_FIELD = 0.3  # the lit field must cover at least this share of the image
MIN_SKIN = 0.05  # healthy skin must cover at least this share of the lit field
GRID = NETWORK_SIDE // 32  # the network's last feature map is GRID × GRID
COLOUR_FEATURES = ("skin_L", "skin_a", "skin_b", "balanced_L", "balanced_a", "balanced_b")


@dataclass
class Evidence:
    """One image made ready for the network, or the reason it is refused (``status`` not ok)."""

    status: str
    message: str = ""
    network_input: np.ndarray | None = None  # NETWORK_SIDE² × 3 uint8, the lit field as photographed
    skin_weights: np.ndarray | None = None  # GRID × GRID share of skin per cell of the feature map
    colour: np.ndarray | None = None  # COLOUR_FEATURES: skin median CIELAB as photographed, then balanced
    skin_fraction: float = 0.0


def _resized(rgb: np.ndarray, side: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = min(1.0, side / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX)) if scale < 1 else rgb


def _lit_box(field: np.ndarray) -> tuple[slice, slice]:
    rows, columns = np.flatnonzero(field.any(axis=1)), np.flatnonzero(field.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1)


def _cell_shares(mask: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(mask.astype(np.float32)).resize((GRID, GRID), Image.Resampling.BOX))


@dataclass
class FoundSkin:
    """An image's lit field at `MASK_SIDE` and its healthy skin, or why none was found (``status`` not ok)."""

    status: str
    message: str = ""
    small: np.ndarray | None = None  # the lit field, long side at most MASK_SIDE, uint8
    lab: np.ndarray | None = None  # its CIELAB
    field: np.ndarray | None = None  # its lit pixels
    skin: np.ndarray | None = None  # its healthy-skin pixels
    box: tuple[slice, slice] | None = None  # the lit field's rows and columns in the full image
    skin_fraction: float = 0.0


def find_skin(rgb: np.ndarray) -> FoundSkin:
    """Steps 1–2 of the module docstring, and the refusals they can make, for one sRGB image (H×W×3 uint8)."""
    if min(rgb.shape[:2]) < MIN_SIDE:
        return FoundSkin("too small", f"{rgb.shape[1]}x{rgb.shape[0]} px; at least {MIN_SIDE} px on each side are needed")
    small = _resized(rgb, MASK_SIDE)
    lit_shape = small.shape[:2]
    lab = rgb2lab(small)
    if np.percentile(np.hypot(lab[..., 1], lab[..., 2]), 95) < 3:
        return FoundSkin("not a colour image", "no pixel has colour (grey-scale?): skin tone cannot be seen")
    field = ~dark_field(lab[..., 0])
    if field.mean() < MIN_FIELD:
        return FoundSkin("mostly dark field", f"only {field.mean():.0%} of the image is lit (at least {MIN_FIELD:.0%} needed)")
    rows, columns = _lit_box(field)
    small, lab, field = small[rows, columns], lab[rows, columns], field[rows, columns]
    skin = select_skin(lab, segment_lesion(small)).mask
    fraction = float(skin.sum() / field.sum())
    if fraction < MIN_SKIN:
        return FoundSkin("too little skin", f"only {fraction:.1%} of the lit field is healthy skin (at least {MIN_SKIN:.0%} needed)",
                         skin_fraction=fraction)
    box = tuple(slice(round(part.start * whole / shown), round(part.stop * whole / shown))
                for part, whole, shown in ((rows, rgb.shape[0], lit_shape[0]), (columns, rgb.shape[1], lit_shape[1])))
    return FoundSkin("ok", small=small, lab=lab, field=field, skin=skin, box=box, skin_fraction=fraction)


def gather_evidence(rgb: np.ndarray) -> Evidence:
    """The `Evidence` of one sRGB image (H×W×3 uint8)."""
    found = find_skin(rgb)
    if found.status != "ok":
        return Evidence(found.status, found.message, skin_fraction=found.skin_fraction)
    small, lab, field, skin, fraction = found.small, found.lab, found.field, found.skin, found.skin_fraction
    balanced_small = shades_of_gray(small, field & ~glare(lab))
    balanced_skin = np.median(rgb2lab(balanced_small)[skin], axis=0)
    skin_lab = np.median(lab[skin], axis=0)
    if skin_lab[2] <= MIN_SKIN_B and balanced_skin[2] <= MIN_SKIN_B:
        return Evidence("not skin-coloured", f"the skin's median b* is {skin_lab[2]:.1f}, {balanced_skin[2]:.1f} once colour-balanced "
                        f"(skin has more than {MIN_SKIN_B:g}): a grey or blue cast that cannot be undone", skin_fraction=fraction)
    lit = np.asarray(Image.fromarray(rgb[found.box]).resize((NETWORK_SIDE, NETWORK_SIDE), Image.Resampling.BILINEAR))
    return Evidence("ok", network_input=lit, skin_weights=_cell_shares(skin),
                    colour=np.concatenate([skin_lab, balanced_skin]).astype(np.float32), skin_fraction=fraction)
