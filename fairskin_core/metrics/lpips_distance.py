"""LPIPS (Zhang et al. 2018) with AlexNet: perceptual distance for diversity and memorization.

The `lpips` package carries its own linear calibration layers, but the AlexNet underneath is
torchvision's ImageNet model, fetched into ``$TORCH_HOME/hub/checkpoints`` on first use. Where
that file is neither cached nor downloadable (offline), LPIPS cannot be computed — and is not
replaced by anything that would look like it: `LpipsUnavailable` says so and how to fix it,
and the report falls back to MS-SSIM diversity and Inception-feature nearest neighbours.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from ..workspace import OFFLINE_ENV, offline

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
ALEXNET_URL = f"https://download.pytorch.org/models/{ALEXNET_FILE}"


class LpipsUnavailable(RuntimeError):
    """LPIPS cannot run here; the message says why and how to make it run."""


def alexnet_weights() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_FILE


class LpipsDistance:
    """LPIPS-AlexNet between pairs of sRGB uint8 images (scaled to [-1, 1] as the model expects)."""

    def __init__(self, device: str | None = None):
        import lpips

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if offline() and not alexnet_weights().is_file():
            raise LpipsUnavailable(self._missing(f"download not tried: ${OFFLINE_ENV} is set"))
        try:
            with warnings.catch_warnings():  # torchvision's notes on its deprecated `pretrained=`, which lpips uses
                warnings.simplefilter("ignore", UserWarning)
                self.model = lpips.LPIPS(net="alex", verbose=False).to(self.device).eval()
        except Exception as exc:  # noqa: BLE001 - torchvision raises URLError, RuntimeError, OSError, ...
            raise LpipsUnavailable(self._missing(f"download failed: {type(exc).__name__}")) from None

    @staticmethod
    def _missing(why: str) -> str:
        return (
            f"LPIPS needs torchvision's AlexNet weights ({ALEXNET_FILE}); they are not in {alexnet_weights().parent} "
            f"({why}). Run once with network access, or copy the file from {ALEXNET_URL} there. "
            "MS-SSIM diversity and Inception-feature nearest neighbours are reported instead."
        )

    def _tensor(self, images: np.ndarray) -> torch.Tensor:
        batch = torch.as_tensor(np.asarray(images), dtype=torch.float32).permute(0, 3, 1, 2)
        return (batch / 127.5 - 1.0).to(self.device)

    @torch.inference_mode()
    def __call__(self, a: np.ndarray, b: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """LPIPS of each pair (a[i], b[i]); images N×H×W×3 uint8 of one size."""
        out = []
        for start in range(0, len(a), batch_size):
            out.append(self.model(self._tensor(a[start : start + batch_size]), self._tensor(b[start : start + batch_size])).flatten().cpu())
        return torch.cat(out).numpy().astype(float) if out else np.array([])
