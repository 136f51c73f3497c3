"""Diversity: pairwise MS-SSIM and LPIPS within a synthetic set's cells, and the real set's own to compare with.

Low MS-SSIM / high LPIPS between images of one cell is diversity; a generator that collapses to a
few lesions per skin type shows it here before FID does. The real set's diversity is the level to reach.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from ..hashing import file_sha256
from ..images import ImageFileError, read_rgb, square
from ..manifest import Manifest
from ..measurement_cache import MeasurementCache, content_key
from .image_pairs import sample_pairs
from .lpips_distance import LpipsDistance
from .msssim import ms_ssim

DIVERSITY_SIZE = 128  # side the images are compared at for MS-SSIM and LPIPS
MAX_PAIRS = 300  # image pairs per FST × diagnosis cell for diversity
BOOTSTRAP = 500
REAL_DIVERSITY = "real-diversity-v1"  # the measurer id of the cached real-set diversity; bump when its method changes


def bootstrap_mean(values: np.ndarray, seed: int) -> dict:
    if len(values) == 0:
        return {"mean": None, "ci_low": None, "ci_high": None}
    rng = np.random.default_rng(seed)
    means = rng.choice(values, size=(BOOTSTRAP, len(values))).mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"mean": float(values.mean()), "ci_low": float(low), "ci_high": float(high)}


def synthetic_diversity(images: dict[int, np.ndarray], synthetic: pd.DataFrame, seed: int,
                        lpips: LpipsDistance | None) -> tuple[dict, pd.DataFrame]:
    """Pairwise MS-SSIM (and LPIPS) within each FST × diagnosis cell of the synthetic set, and per skin type.

    Pairs are drawn within a cell, so a skin type's diversity is not inflated by its mix of
    diagnoses. Returns the section and every measured pair (the report's diversity_pairs.csv)."""
    rng = np.random.default_rng(seed)
    measured = []
    cells = {"ms_ssim": [], "lpips": [] if lpips else None}
    fst_labels = synthetic["fst"].astype("string").fillna("unknown")
    for (fst, diagnosis), rows in synthetic.groupby([fst_labels, "diagnosis"]):
        positions = np.array([i for i in rows.index if i in images], dtype=int)
        pairs = positions[sample_pairs(len(positions), MAX_PAIRS, rng)]
        scores = ms_ssim(images, pairs)
        distances = lpips.between(images, pairs) if lpips else np.array([])
        cells["ms_ssim"].append({"fst": fst, "diagnosis": diagnosis, "n": len(positions), **bootstrap_mean(scores, seed)})
        if lpips:
            cells["lpips"].append({"fst": fst, "diagnosis": diagnosis, "n": len(positions), **bootstrap_mean(distances, seed)})
        ids = synthetic["image_id"]
        for k, (i, j) in enumerate(pairs):
            measured.append({"fst": fst, "diagnosis": diagnosis, "image_a": ids[i], "image_b": ids[j],
                             "ms_ssim": float(scores[k]), "lpips": float(distances[k]) if lpips else None})
    pairs_table = pd.DataFrame(measured, columns=["fst", "diagnosis", "image_a", "image_b", "ms_ssim", "lpips"])
    by_fst = {}
    for metric in ("ms_ssim", "lpips"):
        if metric == "lpips" and not lpips:
            by_fst[metric] = None
            continue
        by_fst[metric] = [{"fst": fst, "n_pairs": int(len(group)), **bootstrap_mean(group[metric].to_numpy(dtype=float), seed)}
                          for fst, group in pairs_table.groupby("fst")]
    cells.update(by_fst=by_fst, pairs_measured=int(len(pairs_table)), pairs_file="diversity_pairs.csv")
    return cells, pairs_table


def real_diversity(real: Manifest, seed: int, lpips: LpipsDistance | None, cache: MeasurementCache | None) -> dict:
    """Pairwise MS-SSIM (and LPIPS) of real images within each diagnosis, pooled: the diversity a generator should reach.

    The same real set is the reference of every synthetic set compared with it, so the result is
    cached (in ``cache``, where one is given) under the content of its images, their diagnoses and order, the seed and the
    LPIPS weights."""
    key = _real_set_key(real, seed)
    measurer = f"{REAL_DIVERSITY}|{DIVERSITY_SIZE}|{lpips.id if lpips else 'no-lpips'}"
    if key and cache and (found := cache.get([key], measurer)):
        return found[key]
    result = _measure_real_diversity(real, seed, lpips)
    if key and cache:
        cache.put({key: result}, measurer)
    return result


def _real_set_key(real: Manifest, seed: int) -> str | None:
    """The content of a real set as the diversity sees it (None if a file cannot be read: nothing is cached then)."""
    digest = hashlib.sha256()
    table = real.table
    for path, root, diagnosis in zip(table["image_path"], table["image_root"], table["diagnosis"], strict=True):
        try:
            digest.update(f"{file_sha256(real.image_file(path, root))}\t{diagnosis}\n".encode())
        except OSError:
            return None
    return content_key(digest.hexdigest(), extra=f"seed={seed}")


def _measure_real_diversity(real: Manifest, seed: int, lpips: LpipsDistance | None) -> dict:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xD1]))
    table, scores, distances = real.table, [], []
    for _, rows in table.groupby("diagnosis"):
        positions = rows.index.to_numpy()
        pairs = positions[sample_pairs(len(positions), MAX_PAIRS, rng)] if len(positions) >= 2 else np.empty((0, 2), int)
        loaded = load_squares(real, sorted(set(pairs.ravel().tolist())))
        pairs = np.array([p for p in pairs if p[0] in loaded and p[1] in loaded], dtype=int).reshape(-1, 2)
        scores.append(ms_ssim(loaded, pairs))
        if lpips:
            distances.append(lpips.between(loaded, pairs))
    scores = np.concatenate(scores) if scores else np.array([])
    result = {"pairs": int(len(scores)), "ms_ssim": bootstrap_mean(scores, seed)}
    result["lpips"] = bootstrap_mean(np.concatenate(distances) if distances else np.array([]), seed) if lpips else None
    return result


def load_squares(manifest: Manifest, rows) -> dict[int, np.ndarray]:
    """Rows (positions) of a manifest as DIVERSITY_SIZE squares (rows that cannot be decoded are left out)."""
    images, table = {}, manifest.table
    for row in rows:
        try:
            images[row] = square(read_rgb(manifest.image_file(table["image_path"].iat[row], table["image_root"].iat[row])), DIVERSITY_SIZE)
        except ImageFileError:
            pass
    return images
