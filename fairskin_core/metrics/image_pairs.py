"""Pairs of images to compare (diversity, memorization): which pairs, and each distinct image once.

A pairwise measure (MS-SSIM, LPIPS) splits into terms of each image and a term of each pair; an image in
many pairs has its own terms computed once when the pairs are given as indices into the images.
"""

from __future__ import annotations

import numpy as np


def sample_pairs(n: int, max_pairs: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``max_pairs`` distinct pairs (i < j) of ``n`` items, at random; all of them when there are few."""
    if n * (n - 1) // 2 <= max_pairs:
        return np.array([(i, j) for i in range(n) for j in range(i + 1, n)], dtype=int).reshape(-1, 2)
    chosen: set[tuple[int, int]] = set()
    while len(chosen) < max_pairs:
        i, j = rng.choice(n, size=2, replace=False)
        chosen.add((int(min(i, j)), int(max(i, j))))
    return np.array(sorted(chosen), dtype=int)


def distinct_images(images, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The images the pairs name, each once (stacked), and the pairs as indices into that stack.

    ``images``: anything indexed by the pairs' integers (an N×H×W×3 array, a list, a dict of position → image)."""
    distinct = np.unique(pairs)
    return np.stack([images[i] for i in distinct]), np.searchsorted(distinct, pairs)
