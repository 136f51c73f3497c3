"""Memorization: is a synthetic image a near-copy of a real training image?

Each synthetic image's nearest real training image, by Inception-feature distance and — where
its weights exist — by LPIPS. An exhaustive LPIPS search compares every (synthetic, real)
pair, so LPIPS re-ranks each image's `LPIPS_CANDIDATES` nearest training images by
Inception features (`k_nearest`, then `rerank`). A distance means little alone, so it is set
against a baseline: how close held-out real images (never trained on) come to the same training set. A
synthetic image closer to its neighbour than nearly all held-out reals are (below their 1st
percentile) is flagged as a suspected copy; the closest pairs are kept to be looked at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SUSPECT_PERCENTILE = 1.0
LPIPS_CANDIDATES = 10
MIN_BASELINE = 20


@dataclass(frozen=True)
class Neighbours:
    """For each query row: the index of its nearest reference row(s), and the distance(s) to it."""

    index: np.ndarray
    distance: np.ndarray


def k_nearest(queries: np.ndarray, references: np.ndarray, k: int, chunk: int = 512) -> Neighbours:
    """The ``k`` nearest references of every query by Euclidean distance, nearest first (N × k arrays).

    In chunks of queries, so memory stays small whatever the number of references.
    """
    if len(references) == 0:
        raise ValueError("no reference images to compare with")
    k = min(k, len(references))
    ref_sq = (references**2).sum(axis=1)
    index, distance = [], []
    for start in range(0, len(queries), chunk):
        block = queries[start : start + chunk]
        squared = np.maximum((block**2).sum(axis=1)[:, None] + ref_sq[None, :] - 2 * block @ references.T, 0)
        best = np.argpartition(squared, k - 1, axis=1)[:, :k] if k < len(references) else np.tile(np.arange(k), (len(block), 1))
        order = np.take_along_axis(squared, best, axis=1).argsort(axis=1, kind="stable")
        best = np.take_along_axis(best, order, axis=1)
        index.append(best)
        distance.append(np.sqrt(np.take_along_axis(squared, best, axis=1)))
    if not index:
        return Neighbours(np.empty((0, k), dtype=int), np.empty((0, k)))
    return Neighbours(np.concatenate(index), np.concatenate(distance))


def nearest(queries: np.ndarray, references: np.ndarray, chunk: int = 512) -> Neighbours:
    """The nearest reference of every query by Euclidean distance."""
    found = k_nearest(queries, references, 1, chunk)
    return Neighbours(found.index[:, 0], found.distance[:, 0])


def rerank(candidates: np.ndarray, distance: Callable[[np.ndarray], np.ndarray]) -> Neighbours:
    """Among each query's candidate references (an N × k index array), the nearest by ``distance``.

    ``distance(pairs)`` returns the distance of each (query, reference) row of an N·k × 2 index array. It gets
    every pair in one call, so a distance with terms of each image (LPIPS's features) computes them once.
    """
    if not len(candidates):
        return Neighbours(np.empty(0, dtype=int), np.empty(0))
    queries = np.repeat(np.arange(len(candidates)), candidates.shape[1])
    distances = np.asarray(distance(np.stack([queries, candidates.ravel()], axis=1)), dtype=float).reshape(candidates.shape)
    best = distances.argmin(axis=1)
    rows = np.arange(len(candidates))
    return Neighbours(candidates[rows, best], distances[rows, best])


def copy_threshold(heldout_to_train: np.ndarray) -> float | None:
    """The distance below which a synthetic image is a suspected copy (None without held-out reals)."""
    if len(heldout_to_train) < MIN_BASELINE:
        return None
    return float(np.percentile(heldout_to_train, SUSPECT_PERCENTILE))


def copy_summary(synthetic_to_train: np.ndarray, heldout_to_train: np.ndarray) -> dict:
    """Threshold, suspected copies and both distance distributions for one distance."""
    threshold = copy_threshold(heldout_to_train)
    return {
        "threshold": threshold,
        "suspected_copies": int((synthetic_to_train < threshold).sum()) if threshold is not None else None,
        "note": "" if threshold is not None
        else f"fewer than {MIN_BASELINE} held-out real images (split val/test): no baseline for suspected copies",
        "synthetic_distances": np.asarray(synthetic_to_train, dtype=float).tolist(),
        "heldout_distances": np.asarray(heldout_to_train, dtype=float).tolist(),
    }
