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


def _ssim_parts(x: torch.Tensor, y: torch.Tensor, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean SSIM and mean contrast-structure term per pair, over the valid region."""
    c1, c2 = (K1 * 255) ** 2, (K2 * 255) ** 2
    # The five local means in one pass: the window is separable (rows, then columns).
    stacked = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    rows = F.conv2d(stacked, window.expand(5, 1, 1, WINDOW).contiguous(), groups=5)
    mu_x, mu_y, xx, yy, xy = F.conv2d(rows, window.view(WINDOW, 1).expand(5, 1, WINDOW, 1).contiguous(), groups=5).split(1, dim=1)
    var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    cs = (2 * cov + c2) / (var_x + var_y + c2)
    ssim = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1) * cs
    return ssim.mean(dim=(1, 2, 3)), cs.mean(dim=(1, 2, 3))


def scales_for(size: int) -> int:
    """How many scales fit: the coarsest image must still hold the window."""
    scales = 1
    while scales < len(SCALE_WEIGHTS) and size // 2**scales >= WINDOW:
        scales += 1
    return scales


def ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Single-scale SSIM of each pair of images (N×H×W×3 uint8 each)."""
    return _ssim_parts(_luma(a), _luma(b), _gaussian_window())[0].numpy()


def ms_ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MS-SSIM of each pair of images (N×H×W×3 uint8 each, all the same size)."""
    x, y = _luma(a), _luma(b)
    if min(x.shape[-2:]) < WINDOW:
        raise ValueError(f"MS-SSIM needs images of at least {WINDOW} px, not {tuple(x.shape[-2:])}")
    count = scales_for(min(x.shape[-2:]))
    weights = torch.tensor(SCALE_WEIGHTS[:count], dtype=torch.float64)
    weights /= weights.sum()
    window = _gaussian_window()
    terms = []
    for scale in range(count):
        full, cs = _ssim_parts(x, y, window)
        terms.append((full if scale == count - 1 else cs).clamp(min=0))
        x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return torch.prod(torch.stack(terms) ** weights[:, None], dim=0).numpy()


def sample_pairs(n: int, max_pairs: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``max_pairs`` distinct pairs (i < j) of ``n`` items, at random; all of them when there are few."""
    if n * (n - 1) // 2 <= max_pairs:
        return np.array([(i, j) for i in range(n) for j in range(i + 1, n)], dtype=int).reshape(-1, 2)
    chosen: set[tuple[int, int]] = set()
    while len(chosen) < max_pairs:
        i, j = rng.choice(n, size=2, replace=False)
        chosen.add((int(min(i, j)), int(max(i, j))))
    return np.array(sorted(chosen), dtype=int)


def pairwise_ms_ssim(images: np.ndarray, max_pairs: int = 300, seed: int = 0) -> np.ndarray:
    """MS-SSIM of distinct pairs drawn at random from ``images`` (all pairs when there are few)."""
    if len(images) < 2:
        return np.array([])
    pairs = sample_pairs(len(images), max_pairs, np.random.default_rng(seed))
    return ms_ssim(images[pairs[:, 0]], images[pairs[:, 1]])
