"""Opening images we did not make: refuse non-images, truncated files and decompression bombs.

Every image that enters fairskin from a manifest goes through here, so a bad file gives the
same clear error everywhere instead of a PIL traceback or an out-of-memory kill.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError

from .workspace import refuse_private

# Far above any dermoscope or phone camera (a 48 MP phone photo is 8064 x 6048 = 49 MP),
# far below what exhausts memory when decoded.
MAX_IMAGE_PIXELS = 100_000_000


_SRGB = ImageCms.createProfile("sRGB")


class ImageFileError(ValueError):
    """A file that is not a usable image; the message says which file and why."""


def _open(path: Path, max_pixels: int) -> Image.Image:
    refuse_private(path, "an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except FileNotFoundError:
        raise ImageFileError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ImageFileError(f"{path}: is a folder, not an image file") from None
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise ImageFileError(f"{path}: not a readable image (format not recognised)") from None
        raise ImageFileError(f"{path}: refused as a decompression bomb ({exc})") from None
    except OSError as exc:
        raise ImageFileError(f"{path}: cannot be read ({exc})") from None
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise ImageFileError(
            f"{path}: refused as a decompression bomb: {width}x{height} = {width * height:,} pixels "
            f"exceeds the limit of {max_pixels:,}; downscale the image first"
        )
    return image


def check_image_header(path: str | Path, max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[int, int]:
    """Check that ``path`` is an image of sane size from its header alone; return (width, height)."""
    image = _open(Path(path), max_pixels)
    size = image.size
    image.close()
    return size


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert to 8-bit RGB, honouring an embedded ICC profile and compositing alpha on black."""
    icc = image.info.get("icc_profile")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = Image.alpha_composite(Image.new("RGBA", image.size, (0, 0, 0, 255)), image.convert("RGBA"))
    image = image.convert("RGB")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            image = ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError):
            pass  # a broken profile: the pixels are still usable as (probably) sRGB
    return image


def _decode(path: Path, max_pixels: int, convert) -> np.ndarray:
    image = _open(path, max_pixels)
    try:
        with image:
            image.load()
            return np.asarray(convert(image))
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageFileError(f"{path}: image data is damaged or truncated ({exc})") from None


def read_rgb(path: str | Path, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode ``path`` fully into an H×W×3 uint8 sRGB array (ICC profiles applied, alpha on black)."""
    return _decode(Path(path), max_pixels, _to_srgb)


def read_mask(path: str | Path, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode a lesion mask into an H×W bool array (any non-zero pixel is lesion)."""
    return _decode(Path(path), max_pixels, lambda image: image.convert("L")) > 0


def square(rgb: np.ndarray, size: int) -> np.ndarray:
    """The image centre-cropped to a square and resized (Lanczos) to size × size."""
    image = Image.fromarray(rgb)
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    if side != size:
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(image)
