"""The cluster bootstrap over images: ratings of one image travel together, so their correlation reaches the interval."""

from __future__ import annotations

import numpy as np
import pandas as pd


def cluster_bootstrap_totals(
    table: pd.DataFrame, values: np.ndarray, n_boot: int, seed: int, *, reviewers_random: bool = False
) -> np.ndarray:
    """Column totals of per-rating ``values`` in each replicate of a cluster bootstrap (n_boot × columns).

    Images are resampled with replacement, each with all of its ratings, so the correlation
    between ratings of the same image is carried into the interval; the reviewers are the
    panel at hand (fixed-reviewer, random-image inference). With ``reviewers_random`` reviewers
    are resampled too, independently, and a rating counts as often as its image times its
    reviewer was drawn (Owen 2007's pigeonhole bootstrap): an interval that also speaks for
    other reviewers but overstates the rating-level noise, up to about three-fold in variance.
    """
    if len(table) == 0:
        return np.zeros((n_boot, values.shape[1]))
    image_codes, images = pd.factorize(table["image"])
    # Reviewers fixed: one stand-in reviewer, drawn exactly once in every replicate.
    reviewer_codes, reviewers = pd.factorize(table["reviewer"] if reviewers_random else np.zeros(len(table)))
    per_cell = np.zeros((len(images), len(reviewers), values.shape[1]))
    np.add.at(per_cell, (image_codes, reviewer_codes), values)
    rng = np.random.default_rng(seed)
    image_draws = _draw_counts(rng, len(images), n_boot)
    reviewer_draws = _draw_counts(rng, len(reviewers), n_boot) if reviewers_random else np.ones((n_boot, 1))
    per_reviewer = (image_draws @ per_cell.reshape(len(images), -1)).reshape(n_boot, len(reviewers), -1)
    return np.einsum("br,brq->bq", reviewer_draws, per_reviewer)


def _draw_counts(rng: np.random.Generator, n_clusters: int, n_boot: int) -> np.ndarray:
    """How often each cluster is drawn in each replicate (n_boot × n_clusters), with replacement."""
    picks = rng.integers(0, n_clusters, size=(n_boot, n_clusters))
    flat = (picks + n_clusters * np.arange(n_boot)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * n_clusters).reshape(n_boot, n_clusters).astype(float)


def bootstrap_interval(estimate: float, replicates: np.ndarray, confidence: float, what: str) -> dict:
    """A point estimate with the percentile interval of its replicates (undefined ones left out)."""
    finite = replicates[np.isfinite(replicates)]
    if not np.isfinite(estimate) or finite.size == 0:
        return {"estimate": None, "ci_low": None, "ci_high": None, "note": f"no {what}: undefined"}
    low, high = np.quantile(finite, [(1 - confidence) / 2, (1 + confidence) / 2])
    dropped = replicates.size - finite.size
    note = f"{dropped} of {replicates.size} replicates drew no {what} and were left out" if dropped else None
    return {"estimate": estimate, "ci_low": low, "ci_high": high, "note": note}


def few_images_note(table: pd.DataFrame) -> str | None:
    """An image bootstrap needs enough images to mean anything; say so when they are few."""
    n_images = table["image"].nunique()
    if 0 < n_images < 10:
        return f"only {n_images} image(s): bootstrap intervals cannot show image-to-image variation reliably"
    return None
