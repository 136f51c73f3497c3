"""Detection: how well reviewers tell synthetic (the positive class) from real images."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .bootstrap import bootstrap_interval, cluster_bootstrap_totals, few_images_note
from .jsonable import jsonable
from .proportions import tost_equivalence, wilson_interval
from .ratings import TARGET_SYNTHETIC_JUDGED_REAL, checked_ratings

# (source, call) of TP, FN, FP, TN.
_CELLS = (("synthetic", "synthetic"), ("synthetic", "real"), ("real", "synthetic"), ("real", "real"))
CLUSTERING_NOTE = (
    "Ratings are clustered: each reviewer rates many images and each image is rated by several "
    "reviewers, so ratings are not independent. Wilson intervals and binomial p-values treat them "
    "as independent and are optimistic; the cluster-bootstrap intervals (whole images resampled) are "
    "the honest ones."
)


def confusion_counts(ratings: pd.DataFrame) -> dict[str, int]:
    """The 2×2 table with synthetic as the positive class: tp, fn, fp, tn."""
    return _confusion_counts(checked_ratings(ratings))


def _confusion_counts(table: pd.DataFrame) -> dict[str, int]:
    """`confusion_counts` of a checked table."""
    return dict(zip(("tp", "fn", "fp", "tn"), (int(x) for x in cell_indicators(table).sum(axis=0)), strict=True))


def cell_indicators(table: pd.DataFrame) -> np.ndarray:
    """Ratings × 4 one-hot of which cell (TP, FN, FP, TN) each rating falls in."""
    return np.column_stack(
        [((table["source"] == source) & (table["call"] == call)).to_numpy(float) for source, call in _CELLS]
    ).reshape(len(table), 4)


def detection_rates(cells: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy, sensitivity and specificity from (…, 4) totals of TP, FN, FP, TN; NaN where undefined."""
    tp, fn, fp, tn = np.moveaxis(cells, -1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "accuracy": (tp + tn) / (tp + fn + fp + tn),
            "sensitivity": tp / (tp + fn),
            "specificity": tn / (tn + fp),
        }


def detection_stats(
    ratings: pd.DataFrame,
    *,
    margin: float = 0.10,
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict:
    """How well reviewers tell synthetic (positive) from real images, for any subset of ratings.

    The 2×2 table; accuracy, sensitivity and specificity with Wilson intervals; the exact
    binomial test of accuracy against 0.5; the share of synthetic images judged real against
    the plan's target; the equivalence test (TOST) with its power; and the cluster-bootstrap
    intervals, which are the honest ones for pooled ratings.
    """
    return _detection_stats(
        checked_ratings(ratings), margin=margin, alpha=alpha, n_boot=n_boot, seed=seed, confidence=confidence
    )


def _detection_stats(
    table: pd.DataFrame, *, margin: float, alpha: float, n_boot: int, seed: int, confidence: float
) -> dict:
    """`detection_stats` of a checked table."""
    counts = _confusion_counts(table)
    tp, fn, fp, tn = counts["tp"], counts["fn"], counts["fp"], counts["tn"]
    n, correct = len(table), tp + tn
    return jsonable({
        "n_ratings": n,
        "n_reviewers": table["reviewer"].nunique(),
        "n_images": table["image"].nunique(),
        "counts": counts,
        "accuracy": _share(correct, n, confidence, "ratings"),
        "sensitivity": _share(tp, tp + fn, confidence, "ratings of synthetic images"),
        "specificity": _share(tn, tn + fp, confidence, "ratings of real images"),
        "synthetic_judged_real": _synthetic_judged_real(fn, tp + fn, confidence),
        "binomial_test": _accuracy_binomial_test(correct, n),
        "equivalence": tost_equivalence(correct, n, margin=margin, alpha=alpha),
        "cluster_bootstrap": _detection_bootstrap(
            table, margin=margin, alpha=alpha, n_boot=n_boot, seed=seed, confidence=confidence
        ),
        "notes": _detection_notes(table, counts),
    })


def _share(successes: int, n: int, confidence: float, counted: str) -> dict:
    """A share with its Wilson interval, or None and the reason when nothing was counted."""
    low, high = wilson_interval(successes, n, confidence)
    return {
        "estimate": successes / n if n else None,
        "ci_low": low,
        "ci_high": high,
        "successes": successes,
        "n": n,
        "note": None if n else f"no {counted}: the share is undefined",
    }


def _synthetic_judged_real(fn: int, n_synthetic: int, confidence: float) -> dict:
    """Share of synthetic-image ratings answered "real" (1 − sensitivity) against the plan's target."""
    share = _share(fn, n_synthetic, confidence, "ratings of synthetic images")
    share.update(
        target=TARGET_SYNTHETIC_JUDGED_REAL, above_target=None, ci_above_target=None, p_value_above_target=None
    )
    if n_synthetic:
        share.update(
            above_target=share["estimate"] > TARGET_SYNTHETIC_JUDGED_REAL,
            ci_above_target=share["ci_low"] > TARGET_SYNTHETIC_JUDGED_REAL,
            # One-sided exact test of H0: share <= target.
            p_value_above_target=stats.binomtest(
                fn, n_synthetic, TARGET_SYNTHETIC_JUDGED_REAL, alternative="greater"
            ).pvalue,
        )
    return share


def _accuracy_binomial_test(correct: int, n: int) -> dict:
    """Exact two-sided binomial test of accuracy against 0.5 (guessing), ratings taken as independent."""
    if n == 0:
        return {"null": 0.5, "p_value": None, "note": "no ratings: nothing to test"}
    return {"null": 0.5, "p_value": stats.binomtest(correct, n, 0.5).pvalue, "note": None}


def _detection_bootstrap(
    table: pd.DataFrame, *, margin: float, alpha: float, n_boot: int, seed: int, confidence: float
) -> dict:
    """Cluster-bootstrap intervals of the detection rates, the design effect and a clustered TOST."""
    cells = cell_indicators(table)
    observed = detection_rates(cells.sum(axis=0))
    replicates = detection_rates(cluster_bootstrap_totals(table, cells, n_boot, seed))
    both_random = detection_rates(cluster_bootstrap_totals(table, cells, n_boot, seed, reviewers_random=True))
    counted = {"accuracy": "ratings", "sensitivity": "synthetic images", "specificity": "real images"}
    result = {
        "scheme": "images resampled with replacement, each with all its ratings; reviewers fixed",
        "n_boot": n_boot,
        "seed": seed,
        **{name: bootstrap_interval(observed[name], replicates[name], confidence, counted[name]) for name in counted},
        "synthetic_judged_real": bootstrap_interval(
            1 - observed["sensitivity"], 1 - replicates["sensitivity"], confidence, "synthetic images"
        ),
        # Conservative: also resamples reviewers (Owen 2007), for a claim about dermatologists at large.
        "accuracy_reviewers_random": bootstrap_interval(
            observed["accuracy"], both_random["accuracy"], confidence, "ratings"
        ),
        "design_effect": None,
        "effective_n": None,
        "equivalence": _bootstrap_equivalence(replicates["accuracy"], margin, alpha),
        "note": few_images_note(table),
    }
    accuracy = observed["accuracy"]
    finite = replicates["accuracy"][np.isfinite(replicates["accuracy"])]
    if 0 < accuracy < 1 and finite.size > 1 and finite.var() > 0:
        # Variance of the clustered estimate over the variance if ratings were independent.
        design_effect = finite.var(ddof=1) / (accuracy * (1 - accuracy) / len(table))
        result.update(design_effect=design_effect, effective_n=len(table) / design_effect)
    return result


def _bootstrap_equivalence(accuracy_replicates: np.ndarray, margin: float, alpha: float) -> dict:
    """TOST by interval inclusion: the (1 − 2α) cluster-bootstrap interval inside 0.5 ± margin."""
    finite = accuracy_replicates[np.isfinite(accuracy_replicates)]
    level = 1 - 2 * alpha
    if finite.size == 0:
        return {"level": level, "ci_low": None, "ci_high": None, "equivalent": None, "note": "no ratings"}
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return {
        "level": level, "ci_low": low, "ci_high": high,
        "equivalent": bool(0.5 - margin < low and high < 0.5 + margin), "note": None,
    }


def _detection_notes(table: pd.DataFrame, counts: dict[str, int]) -> list[str]:
    """Plain warnings about what this subset's detection numbers cannot show."""
    if len(table) == 0:
        return ["no ratings"]
    n_synthetic, n_real = counts["tp"] + counts["fn"], counts["fp"] + counts["tn"]
    notes = []
    if n_synthetic == 0 or n_real == 0:
        missing = "synthetic" if n_synthetic == 0 else "real"
        notes.append(
            f"no ratings of {missing} images: accuracy here only measures one arm and says nothing "
            "about telling real from synthetic"
        )
    elif abs(n_synthetic / len(table) - 0.5) > 0.05:
        always = max(n_real, n_synthetic) / len(table)
        notes.append(
            f"the arms are unbalanced ({n_synthetic} synthetic, {n_real} real ratings): a reviewer who "
            f"always gave the majority answer would score {always:.0%}, so 0.5 is not the chance level "
            "of accuracy; read sensitivity and specificity"
        )
    if table["call"].nunique() == 1:
        notes.append(
            f"every call was '{table['call'].iloc[0]}': accuracy reflects the mix of images, not discrimination"
        )
    if table["reviewer"].nunique() > 1 or table["image"].duplicated().any():
        notes.append(CLUSTERING_NOTE)
    return notes
