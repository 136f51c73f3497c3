"""MS-SSIM (Wang, Simoncelli & Bovik 2003) and the diversity it measures: needs no learned weights.

Two images that are nearly the same score close to 1; mean pairwise MS-SSIM within a set of
synthetic images is therefore low when they are diverse and high when the generator keeps
drawing the same picture (mode collapse). Computed on luminance (ITU-R BT.601 luma) with an 11-tap
Gaussian window (σ = 1.5), valid convolution, and as many of the standard five scales as the
image size allows (the weights of the scales used are renormalised).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .image_pairs import distinct_images, sample_pairs

SCALE_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WINDOW = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03


def _gaussian_window() -> torch.Tensor:
    """The 1-D taps of the separable Gaussian window."""
    taps = torch.arange(WINDOW, dtype=torch.float64) - WINDOW // 2
    kernel = torch.exp(-(taps**2) / (2 * SIGMA**2))
    return kernel / kernel.sum()


def _luma(images: np.ndarray) -> torch.Tensor:
    """N×H×W×3 uint8 → N×1×H×W float64 luma in 0–255."""
    rgb = torch.as_tensor(np.asarray(images), dtype=torch.float64)
    return (rgb @ torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64))[:, None]


def _filtered(channels: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Gaussian-weighted local means of each channel over the valid region: the window is separable (rows, then columns)."""
    count = channels.shape[1]
    rows = F.conv2d(channels, window.expand(count, 1, 1, WINDOW).contiguous(), groups=count)
    return F.conv2d(rows, window.view(WINDOW, 1).expand(count, 1, WINDOW, 1).contiguous(), groups=count)


def _ssim_parts(luma: torch.Tensor, pairs: torch.Tensor, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean SSIM and mean contrast-structure term of each pair (i, j) of images ``luma`` (N×1×H×W), over the valid region.

    Local means and variances are an image's own, filtered once per image; only the covariance is filtered per pair."""
    c1, c2 = (K1 * 255) ** 2, (K2 * 255) ** 2
    mu, squares = _filtered(torch.cat([luma, luma * luma], dim=1), window).split(1, dim=1)
    var = squares - mu**2
    i, j = pairs.T
    mu_x, mu_y = mu[i], mu[j]
    cov = _filtered(luma[i] * luma[j], window) - mu_x * mu_y
    cs = (2 * cov + c2) / (var[i] + var[j] + c2)
    ssim = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1) * cs
    return ssim.mean(dim=(1, 2, 3)), cs.mean(dim=(1, 2, 3))


def scales_for(size: int) -> int:
    """How many scales fit: the coarsest image must still hold the window."""
    scales = 1
    while scales < len(SCALE_WEIGHTS) and size // 2**scales >= WINDOW:
        scales += 1
    return scales


def _luma_of_pairs(images, pairs) -> tuple[torch.Tensor, torch.Tensor]:
    """The luma of each image the pairs name, once, and the pairs as indices into it."""
    stacked, pairs = distinct_images(images, np.asarray(pairs, dtype=int).reshape(-1, 2))
    return _luma(stacked), torch.from_numpy(pairs)


def ssim(images, pairs) -> np.ndarray:
    """Single-scale SSIM of each pair (images[i], images[j]) of an N×2 index array; H×W×3 uint8 images of one size."""
    if not len(pairs):
        return np.array([])
    return _ssim_parts(*_luma_of_pairs(images, pairs), _gaussian_window())[0].numpy()


def ms_ssim(images, pairs) -> np.ndarray:
    """MS-SSIM of each pair (images[i], images[j]) of an N×2 index array; H×W×3 uint8 images of one size.

    ``images``: anything indexed by the pairs' integers (an array, a list, a dict)."""
    if not len(pairs):
        return np.array([])
    x, pairs = _luma_of_pairs(images, pairs)
    if min(x.shape[-2:]) < WINDOW:
        raise ValueError(f"MS-SSIM needs images of at least {WINDOW} px, not {tuple(x.shape[-2:])}")
    count = scales_for(min(x.shape[-2:]))
    weights = torch.tensor(SCALE_WEIGHTS[:count], dtype=torch.float64)
    weights /= weights.sum()
    window = _gaussian_window()
    terms = []
    for scale in range(count):
        full, cs = _ssim_parts(x, pairs, window)
        terms.append((full if scale == count - 1 else cs).clamp(min=0))
        x = F.avg_pool2d(x, 2)
    return torch.prod(torch.stack(terms) ** weights[:, None], dim=0).numpy()


def pairwise_ms_ssim(images: np.ndarray, max_pairs: int = 300, seed: int = 0) -> np.ndarray:
    """MS-SSIM of distinct pairs drawn at random from ``images`` (all pairs when there are few)."""
    return ms_ssim(images, sample_pairs(len(images), max_pairs, np.random.default_rng(seed)))
