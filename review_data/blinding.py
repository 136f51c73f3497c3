"""Re-rendering study images so that nothing but the picture can tell the arms apart.

Every study image, real or synthetic, goes through the same steps: decode to sRGB (embedded ICC
profiles applied), centre-crop to a square, resize with the same filter to the same size, and
save as a PNG with no metadata (no EXIF, ICC or text chunks) under a random opaque name. The
size is at most the smallest source's short side, so no arm is upsampled more than the other
shows (a blurred arm would be a tell). Reviewers' browsers receive these pixels re-encoded by
the app in one fixed format (see `app/review_tab.py`).
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import numpy as np
from PIL import Image

from fairskin_core.errors import ParameterError
from fairskin_core.hashing import file_sha256
from fairskin_core.images import check_image_header, read_rgb, square

MAX_STUDY_IMAGE_SIZE = 512


def opaque_id() -> str:
    """A random name that says nothing about the image: 24 hex digits."""
    return secrets.token_hex(12)


def study_image_size(paths: list[Path], requested: int | None = None) -> int:
    """The common side length: the smallest source's short side, at most 512 px."""
    smallest = min(min(check_image_header(p)) for p in paths)
    if requested is None:
        return min(smallest, MAX_STUDY_IMAGE_SIZE)
    if not 32 <= requested <= smallest:
        raise ParameterError(
            f"{{image_size}} {requested}: must be between 32 and {smallest} px (the smallest study image's short side), "
            "so that no image is enlarged", "image_size"
        )
    return requested


def render_blinded(path: Path, size: int) -> np.ndarray:
    """The image centre-cropped to a square and resized to size × size, as sRGB uint8."""
    return square(read_rgb(path), size)


def save_blinded(pixels: np.ndarray, destination: Path) -> None:
    """PNG with pixels only: PIL writes no text, EXIF or ICC chunk unless asked to."""
    Image.fromarray(pixels).save(destination, format="PNG", compress_level=6)


def _pixels_sha256(path: Path) -> str:
    """The SHA-256 of the decoded sRGB pixels and their shape: one picture, whatever file holds it."""
    pixels = read_rgb(path)
    return hashlib.sha256(repr(pixels.shape).encode() + pixels.tobytes()).hexdigest()


def image_identities(image_id: str, file: Path) -> list[tuple[str, str]]:
    """What makes two images one: the same image id, the same file's bytes, or the same decoded pixels."""
    return [("id", image_id), ("file", file_sha256(file)), ("pixels", _pixels_sha256(file))]
