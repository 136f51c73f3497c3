"""Lesion outlines drawn at the size a picture is shown, so that no resizing drops or shifts them.

The Data tab's selected image and the Generate tab's tone-transfer pairs both use these."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

DETAIL_PX = 512  # a picture is shown at least this large (smaller ones enlarged pixel for pixel)...
DETAIL_MAX_PX = 1024  # ...and at most this large (a 4000 px photograph would be megabytes of PNG)
OUTLINE_PX = 2  # the outline's width at DETAIL_PX; wider on larger pictures, so about 2 px on the screen
OUTLINE_COLOUR = (0, 255, 120)


def shown_size(shape: tuple[int, ...]) -> tuple[int, int]:
    """(width, height) of the picture shown for an image: its own size brought within DETAIL_PX … DETAIL_MAX_PX."""
    height, width = shape[:2]
    longer = min(max(height, width, DETAIL_PX), DETAIL_MAX_PX)
    scale = longer / max(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def at_shown_size(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An image or mask at the size shown: enlarged pixel for pixel, reduced with Lanczos (masks: by nearest pixel)."""
    picture = Image.fromarray(pixels)
    if picture.size != size:
        smooth = pixels.dtype != bool and size[0] < picture.width
        picture = picture.resize(size, Image.Resampling.LANCZOS if smooth else Image.Resampling.NEAREST)
    return np.array(picture)


def lesion_outline(shown_mask: np.ndarray) -> np.ndarray:
    """The border of a mask at the size it is shown.

    Every region gets its own border, holes theirs too; a lesion cut by the image's edge is closed along it."""
    width = max(OUTLINE_PX, round(OUTLINE_PX * max(shown_mask.shape) / DETAIL_PX))
    return shown_mask & ~ndimage.binary_erosion(shown_mask, iterations=width)


def outlined(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``image`` at the size it is shown, with the outline of the lesion ``mask`` (of the image's own size) drawn over it."""
    size = shown_size(image.shape)
    shown = at_shown_size(image, size)
    if mask is not None:
        shown[lesion_outline(at_shown_size(mask, size))] = OUTLINE_COLOUR
    return shown
