"""Realism (1–7): how real each arm looks, and how well the score separates real from synthetic images."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .bootstrap import bootstrap_interval, cluster_bootstrap_totals, few_images_note
from .jsonable import jsonable
from .ratings import ARMS, POSITIVE, REALISM_LEVELS, checked_ratings

# _REAL_WINS[a, b]: 1 when realism level a (a real image's) beats level b (a synthetic one's), ½ on a tie.
_REAL_WINS = 0.5 + 0.5 * np.sign(REALISM_LEVELS[:, None] - REALISM_LEVELS[None, :])


def realism_stats(ratings: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95) -> dict:
    """Realism (1–7) of real and synthetic images, and how well it separates them.

    Per arm: counts per level, mean and median with cluster-bootstrap intervals. Between arms:
    the Mann–Whitney U test and the ROC AUC of realism read as a detector (higher realism =
    "real"; synthetic is the positive class, so an image is called synthetic when its realism is
    at most a threshold). AUC = U / (n_real · n_synthetic) with ties counted half.
    """
    return _realism_stats(checked_ratings(ratings), n_boot=n_boot, seed=seed, confidence=confidence)


def _realism_stats(table: pd.DataFrame, *, n_boot: int, seed: int, confidence: float) -> dict:
    """`realism_stats` of a checked table."""
    rated = table[table["realism"].notna()]
    levels = _realism_indicators(rated)
    observed = levels.sum(axis=0).reshape(2, len(REALISM_LEVELS))
    replicates = cluster_bootstrap_totals(rated, levels, n_boot, seed).reshape(n_boot, 2, len(REALISM_LEVELS))
    unscored = len(table) - len(rated)
    notes = [
        note for note in (
            "no realism scores" if len(rated) == 0 else few_images_note(rated),
            f"{unscored} rating(s) without a realism score were left out" if unscored else None,
        ) if note
    ]
    return jsonable({
        "n_ratings": len(rated),
        "arms": {arm: _realism_arm(observed[i], replicates[:, i], confidence) for i, arm in enumerate(ARMS)},
        "mann_whitney": _mann_whitney(rated),
        "auc": _realism_auc(observed, replicates, confidence),
        "roc": _roc_points(observed[0], observed[1]),
        "notes": notes,
    })


def _realism_indicators(rated: pd.DataFrame) -> np.ndarray:
    """Ratings × 14 one-hot of (arm, realism level): columns 0–6 real 1–7, 7–13 synthetic 1–7."""
    column = (rated["source"] == POSITIVE).to_numpy(int) * len(REALISM_LEVELS) + rated["realism"].to_numpy(int) - 1
    indicators = np.zeros((len(rated), 2 * len(REALISM_LEVELS)))
    indicators[np.arange(len(rated)), column] = 1
    return indicators


def _realism_arm(counts: np.ndarray, replicate_counts: np.ndarray, confidence: float) -> dict:
    return {
        "n": int(counts.sum()),
        "counts": {str(level): int(c) for level, c in zip(REALISM_LEVELS, counts, strict=True)},
        "mean": bootstrap_interval(_mean_of_counts(counts), _mean_of_counts(replicate_counts), confidence, "ratings"),
        "median": bootstrap_interval(
            _median_of_counts(counts), _median_of_counts(replicate_counts), confidence, "ratings"
        ),
    }


def _mean_of_counts(counts: np.ndarray) -> np.ndarray:
    """Mean realism from (…, 7) counts per level; NaN where there are none."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return counts @ REALISM_LEVELS / counts.sum(axis=-1)


def _median_of_counts(counts: np.ndarray) -> np.ndarray:
    """Median realism from (…, 7) counts per level (mean of the two middle values when even)."""
    total = counts.sum(axis=-1, keepdims=True)
    cumulative = counts.cumsum(axis=-1)
    lower = REALISM_LEVELS[np.argmax(cumulative >= total / 2, axis=-1)]
    upper = REALISM_LEVELS[np.argmax(cumulative > total / 2, axis=-1)]
    return np.where(total[..., 0] > 0, (lower + upper) / 2, np.nan)


def _auc_of_counts(real: np.ndarray, synthetic: np.ndarray) -> np.ndarray:
    """P(a real image's realism > a synthetic image's) + ½ P(tie), from (…, 7) counts per arm."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.einsum("...i,ij,...j->...", real, _REAL_WINS, synthetic) / (real.sum(-1) * synthetic.sum(-1))


def _realism_auc(observed: np.ndarray, replicates: np.ndarray, confidence: float) -> dict:
    auc = bootstrap_interval(
        _auc_of_counts(observed[0], observed[1]),
        _auc_of_counts(replicates[:, 0], replicates[:, 1]),
        confidence,
        "ratings of one of the arms",
    )
    auc["meaning"] = (
        "Probability that a randomly chosen real image's realism score beats a randomly chosen "
        "synthetic image's (ties count half). 0.5: realism does not separate the arms (synthetic "
        "images look as real as real ones); 1: every real image is rated more realistic; below "
        "0.5: synthetic images are rated more realistic."
    )
    return auc


def _mann_whitney(rated: pd.DataFrame) -> dict:
    """Two-sided Mann–Whitney U test of realism, real vs synthetic (scipy: exact or tie-corrected normal)."""
    real = rated.loc[rated["source"] == "real", "realism"].to_numpy()
    synthetic = rated.loc[rated["source"] == POSITIVE, "realism"].to_numpy()
    if real.size == 0 or synthetic.size == 0:
        return {"u_real": None, "p_value": None, "note": "needs realism scores of both real and synthetic images"}
    result = stats.mannwhitneyu(real, synthetic, alternative="two-sided")
    note = "every realism score is the same" if np.unique(np.concatenate([real, synthetic])).size == 1 else None
    return {"u_real": result.statistic, "p_value": result.pvalue, "note": note}


def _roc_points(real_counts: np.ndarray, synthetic_counts: np.ndarray) -> list[dict]:
    """ROC of realism with synthetic positive: call an image synthetic when realism ≤ t, t = 0…7."""
    if real_counts.sum() == 0 or synthetic_counts.sum() == 0:
        return []
    fpr = np.concatenate([[0], real_counts.cumsum() / real_counts.sum()])
    tpr = np.concatenate([[0], synthetic_counts.cumsum() / synthetic_counts.sum()])
    return [{"threshold": t, "fpr": f, "tpr": s} for t, f, s in zip(range(8), fpr, tpr, strict=True)]
