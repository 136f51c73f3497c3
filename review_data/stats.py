"""Statistics of the blinded visual Turing test: can dermatologists tell synthetic lesions from real?

Synthetic is the positive class throughout. A reviewer's "synthetic" call is a positive call:
TP = synthetic image called synthetic, FN = synthetic called real, FP = real called synthetic,
TN = real called real. Sensitivity is the share of synthetic images caught, specificity the share
of real images passed as real, and 1 − sensitivity the share of synthetic images judged real.

Every function takes the ratings table (one row per rating, columns `RATING_COLUMNS`; extra
columns are ignored) and returns plain numbers. Where the data cannot support a value (no
ratings, one arm missing, every answer the same) the value is None and a note says why.
docs/review_statistics.md gives each formula, its reference and what it cannot show.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
from scipy import stats

from fairskin_core.fst import FST_GROUPS

from .answers import ABCD_ANSWERS, ABCD_QUESTIONS, CALLS, REALISM

POSITIVE = "synthetic"
ARMS = CALLS  # index 0 = real, 1 = synthetic wherever arrays are split by arm
ABCD_ITEMS = {column: column.removeprefix("abcd_") for column in ABCD_QUESTIONS}
REALISM_LEVELS = np.array(REALISM)
TARGET_SYNTHETIC_JUDGED_REAL = 0.60  # the study plan: over 60% of synthetic images judged real
POWER_TARGET = 0.80  # the power an equivalence claim should have
UNKNOWN = "unknown"  # label of ratings whose FST group or diagnosis is not known
RATING_COLUMNS = (
    "reviewer", "image", "source", "call", "realism", *ABCD_ITEMS, "seconds", "fst_group", "diagnosis",
)
_NUMBER_COLUMNS = ("realism", "seconds")
# (source, call) of TP, FN, FP, TN.
_CELLS = (("synthetic", "synthetic"), ("synthetic", "real"), ("real", "synthetic"), ("real", "real"))
# _REAL_WINS[a, b]: 1 when realism level a (a real image's) beats level b (a synthetic one's), ½ on a tie.
_REAL_WINS = 0.5 + 0.5 * np.sign(REALISM_LEVELS[:, None] - REALISM_LEVELS[None, :])
POSITIVE_CLASS_NOTE = (
    "Synthetic is the positive class: sensitivity = share of synthetic images called synthetic, "
    "specificity = share of real images called real, 1 - sensitivity = share of synthetic images judged real."
)
CLUSTERING_NOTE = (
    "Ratings are clustered: each reviewer rates many images and each image is rated by several "
    "reviewers, so ratings are not independent. Wilson intervals and binomial p-values treat them "
    "as independent and are optimistic; the cluster-bootstrap intervals (whole images resampled) are "
    "the honest ones."
)


# --------------------------------------------------------------------------- input


def checked_ratings(ratings: pd.DataFrame) -> pd.DataFrame:
    """The ratings reduced to `RATING_COLUMNS` in plain types; malformed values are refused.

    A table with no rows may lack columns (a study with no ratings yet). Missing realism, ABCD
    answers, times, FST groups and diagnoses are allowed (NaN or ''); a source or call other than
    real / synthetic is not, nor is an image listed as both real and synthetic.
    """
    if len(ratings) == 0:
        return pd.DataFrame(
            {c: pd.Series(dtype=float if c in _NUMBER_COLUMNS else str) for c in RATING_COLUMNS}
        )
    missing = [c for c in RATING_COLUMNS if c not in ratings.columns]
    if missing:
        raise ValueError(f"the ratings table lacks column(s) {missing}")
    table = ratings.loc[:, list(RATING_COLUMNS)].reset_index(drop=True)
    for column in RATING_COLUMNS:
        if column in _NUMBER_COLUMNS:
            table[column] = _numbers(table[column], column)
        else:
            table[column] = table[column].fillna("").astype(str).str.strip()
    _refuse_other_values(table, "source", ARMS)
    _refuse_other_values(table, "call", ARMS)
    _refuse_other_values(table, "fst_group", (*FST_GROUPS, ""))
    for column in ABCD_ITEMS:
        _refuse_other_values(table, column, (*ABCD_ANSWERS, ""))
    if not table["realism"].dropna().isin(REALISM_LEVELS).all():
        raise ValueError("realism must be a whole number from 1 to 7 (or missing)")
    if (table.groupby("image")["source"].nunique() > 1).any():
        raise ValueError("an image is listed as both real and synthetic")
    return table


def _numbers(values: pd.Series, column: str) -> pd.Series:
    """A column as floats; blanks become NaN but text that is not a number is refused."""
    numbers = pd.to_numeric(values.replace("", np.nan), errors="coerce")
    if (numbers.isna() & values.notna() & (values.astype(str).str.strip() != "")).any():
        raise ValueError(f"{column} holds values that are not numbers")
    return numbers.astype(float)


def _refuse_other_values(table: pd.DataFrame, column: str, allowed: tuple[str, ...]) -> None:
    unexpected = sorted(table.loc[~table[column].isin(allowed), column].unique())
    if unexpected:
        raise ValueError(f"{column} must be one of {allowed}; found {unexpected[:5]}")


# --------------------------------------------------------------------------- proportions


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (Wilson 1927); (nan, nan) when n = 0.

    Unlike p ± z·SE it stays inside [0, 1] and keeps its coverage near 0, near 1 and for small n,
    which is where a good detector or a tiny subgroup puts us.
    """
    if not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    if n == 0:
        return math.nan, math.nan
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = successes / n
    shrink = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / shrink
    half_width = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / shrink
    return max(0.0, centre - half_width), min(1.0, centre + half_width)


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


# --------------------------------------------------------------------------- equivalence (TOST)


def tost_equivalence(correct: int, n: int, *, margin: float = 0.10, alpha: float = 0.05) -> dict:
    """Is accuracy within 0.5 ± margin, i.e. are reviewers practically at chance?

    Two one-sided exact binomial tests (Schuirmann 1987): H0a accuracy ≤ 0.5 − margin and
    H0b accuracy ≥ 0.5 + margin. Equivalence is shown when both are rejected (p = max of the two
    < alpha). Also gives the test's power at true accuracy 0.5 for this n and the number of
    ratings needed for 80% power, both assuming independent ratings.
    """
    _check_tost_settings(margin, alpha)
    lower, upper = 0.5 - margin, 0.5 + margin
    power = tost_power(n, margin=margin, alpha=alpha)
    needed = tost_ratings_needed(margin=margin, alpha=alpha)
    result = {
        "margin": margin, "alpha": alpha, "bounds": [lower, upper], "n": n,
        "p_lower": None, "p_upper": None, "p_value": None, "equivalent": None,
        "power": power, "power_target": POWER_TARGET, "ratings_needed": needed, "note": None,
    }
    if n == 0:
        return _jsonable({**result, "note": "no ratings: nothing to test"})
    p_lower = stats.binomtest(correct, n, lower, alternative="greater").pvalue
    p_upper = stats.binomtest(correct, n, upper, alternative="less").pvalue
    p_value = max(p_lower, p_upper)
    result.update(p_lower=p_lower, p_upper=p_upper, p_value=p_value, equivalent=bool(p_value < alpha))
    if power < POWER_TARGET:
        result["note"] = (
            f"Too small to support an 'indistinguishable' claim: with {n} rating(s) this test has "
            f"{power:.0%} power to show accuracy within 0.5 ± {margin:g} even if reviewers truly "
            f"guess; about {needed} independent ratings are needed for {POWER_TARGET:.0%} power (more with "
            "clustered ratings: multiply by the design effect). Failing to show equivalence here "
            "is not evidence that reviewers can tell the images apart, and a non-significant "
            "binomial test is not evidence that they cannot."
        )
    return _jsonable(result)


def tost_power(n: int, *, margin: float = 0.10, alpha: float = 0.05, accuracy: float = 0.5) -> float:
    """Probability that the exact TOST shows equivalence with n independent ratings."""
    _check_tost_settings(margin, alpha)
    return float(_tost_power_curve(np.array([n]), margin, alpha, accuracy)[0]) if n > 0 else 0.0


@functools.lru_cache(maxsize=32)
def tost_ratings_needed(*, margin: float = 0.10, alpha: float = 0.05, power: float = POWER_TARGET) -> int:
    """Fewest independent ratings from which the exact TOST keeps at least ``power`` at accuracy 0.5.

    Exact binomial power zig-zags with n, so this is the n from which it never again drops
    below the target (a few ratings more than the first n that reaches it).
    """
    _check_tost_settings(margin, alpha)
    z = stats.norm.ppf(1 - alpha) + stats.norm.ppf(1 - (1 - power) / 2)
    normal_approximation = 0.25 * z * z / margin**2
    ns = np.arange(1, int(3 * normal_approximation) + 200)
    short = np.flatnonzero(_tost_power_curve(ns, margin, alpha, 0.5) < power)
    return int(ns[short[-1] + 1]) if short.size else 1


def _tost_power_curve(ns: np.ndarray, margin: float, alpha: float, accuracy: float) -> np.ndarray:
    """Exact TOST power at each n: the binomial probability of a count that rejects both nulls."""
    lower, upper = 0.5 - margin, 0.5 + margin
    # Smallest count whose test against `lower` has p < alpha: isf gives the first count with
    # an upper tail <= alpha; step one further where the tail equals alpha exactly.
    k_min = stats.binom.isf(alpha, ns, lower) + 1
    k_min += stats.binom.sf(k_min - 1, ns, lower) >= alpha
    # Largest count whose test against `upper` has p < alpha.
    k_max = stats.binom.ppf(alpha, ns, upper) - 1
    power = stats.binom.cdf(k_max, ns, accuracy) - stats.binom.cdf(k_min - 1, ns, accuracy)
    return np.where(k_min <= k_max, power, 0.0)


def _check_tost_settings(margin: float, alpha: float) -> None:
    if not 0 < margin < 0.5:
        raise ValueError(f"margin must lie strictly between 0 and 0.5, got {margin}")
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must lie strictly between 0 and 0.5, got {alpha}")


# --------------------------------------------------------------------------- cluster bootstrap


def _cluster_bootstrap_totals(
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


def _bootstrapped(estimate: float, replicates: np.ndarray, confidence: float, what: str) -> dict:
    """A point estimate with the percentile interval of its replicates (undefined ones left out)."""
    finite = replicates[np.isfinite(replicates)]
    if not np.isfinite(estimate) or finite.size == 0:
        return {"estimate": None, "ci_low": None, "ci_high": None, "note": f"no {what}: undefined"}
    low, high = np.quantile(finite, [(1 - confidence) / 2, (1 + confidence) / 2])
    dropped = replicates.size - finite.size
    note = f"{dropped} of {replicates.size} replicates drew no {what} and were left out" if dropped else None
    return {"estimate": estimate, "ci_low": low, "ci_high": high, "note": note}


def _few_images_note(table: pd.DataFrame) -> str | None:
    """An image bootstrap needs enough images to mean anything; say so when they are few."""
    n_images = table["image"].nunique()
    if 0 < n_images < 10:
        return f"only {n_images} image(s): bootstrap intervals cannot show image-to-image variation reliably"
    return None


# --------------------------------------------------------------------------- detection


def confusion_counts(ratings: pd.DataFrame) -> dict[str, int]:
    """The 2×2 table with synthetic as the positive class: tp, fn, fp, tn."""
    table = checked_ratings(ratings)
    indicators = _cell_indicators(table)
    return dict(zip(("tp", "fn", "fp", "tn"), (int(x) for x in indicators.sum(axis=0)), strict=True))


def _cell_indicators(table: pd.DataFrame) -> np.ndarray:
    """Ratings × 4 one-hot of which cell (TP, FN, FP, TN) each rating falls in."""
    return np.column_stack(
        [((table["source"] == source) & (table["call"] == call)).to_numpy(float) for source, call in _CELLS]
    ).reshape(len(table), 4)


def _detection_rates(cells: np.ndarray) -> dict[str, np.ndarray]:
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
    table = checked_ratings(ratings)
    counts = confusion_counts(table)
    tp, fn, fp, tn = counts["tp"], counts["fn"], counts["fp"], counts["tn"]
    n, correct = len(table), tp + tn
    return _jsonable({
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
    cells = _cell_indicators(table)
    observed = _detection_rates(cells.sum(axis=0))
    replicates = _detection_rates(_cluster_bootstrap_totals(table, cells, n_boot, seed))
    both_random = _detection_rates(_cluster_bootstrap_totals(table, cells, n_boot, seed, reviewers_random=True))
    counted = {"accuracy": "ratings", "sensitivity": "synthetic images", "specificity": "real images"}
    result = {
        "scheme": "images resampled with replacement, each with all its ratings; reviewers fixed",
        "n_boot": n_boot,
        "seed": seed,
        **{name: _bootstrapped(observed[name], replicates[name], confidence, counted[name]) for name in counted},
        "synthetic_judged_real": _bootstrapped(
            1 - observed["sensitivity"], 1 - replicates["sensitivity"], confidence, "synthetic images"
        ),
        # Conservative: also resamples reviewers (Owen 2007), for a claim about dermatologists at large.
        "accuracy_reviewers_random": _bootstrapped(
            observed["accuracy"], both_random["accuracy"], confidence, "ratings"
        ),
        "design_effect": None,
        "effective_n": None,
        "equivalence": _bootstrap_equivalence(replicates["accuracy"], margin, alpha),
        "note": _few_images_note(table),
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


# --------------------------------------------------------------------------- realism


def realism_stats(ratings: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95) -> dict:
    """Realism (1–7) of real and synthetic images, and how well it separates them.

    Per arm: counts per level, mean and median with cluster-bootstrap intervals. Between arms:
    the Mann–Whitney U test and the ROC AUC of realism read as a detector (higher realism =
    "real"; synthetic is the positive class, so an image is called synthetic when its realism is
    at most a threshold). AUC = U / (n_real · n_synthetic) with ties counted half.
    """
    table = checked_ratings(ratings)
    rated = table[table["realism"].notna()]
    levels = _realism_indicators(rated)
    observed = levels.sum(axis=0).reshape(2, len(REALISM_LEVELS))
    replicates = _cluster_bootstrap_totals(rated, levels, n_boot, seed).reshape(n_boot, 2, len(REALISM_LEVELS))
    unscored = len(table) - len(rated)
    notes = [
        note for note in (
            "no realism scores" if len(rated) == 0 else _few_images_note(rated),
            f"{unscored} rating(s) without a realism score were left out" if unscored else None,
        ) if note
    ]
    return _jsonable({
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
        "mean": _bootstrapped(_mean_of_counts(counts), _mean_of_counts(replicate_counts), confidence, "ratings"),
        "median": _bootstrapped(_median_of_counts(counts), _median_of_counts(replicate_counts), confidence, "ratings"),
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
    auc = _bootstrapped(
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


# --------------------------------------------------------------------------- agreement


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' κ from an items × categories table of how many ratings fell in each category.

    Items may have different numbers of ratings n_i: κ = 1 − D_o / D_e with
    D_o = Σ_i (n_i² − Σ_j n_ij²) / n_i / Σ_i (n_i − 1) and D_e = 1 − Σ_j p_j², p_j the pooled
    share of category j. This is Fleiss (1971) when every n_i is equal and Fleiss & Cuzick (1979)
    for two categories. Items with fewer than two ratings carry no agreement and are left out.
    NaN when no item has two ratings or every rating falls in one category.
    """
    counts = np.asarray(counts, dtype=float)
    counts = counts[counts.sum(axis=1) >= 2]
    per_item = counts.sum(axis=1)
    if per_item.size == 0:
        return math.nan
    pooled = counts.sum(axis=0) / per_item.sum()
    expected = 1 - (pooled**2).sum()
    if expected <= 0:
        return math.nan
    observed = ((per_item**2 - (counts**2).sum(axis=1)) / per_item).sum() / (per_item - 1).sum()
    return float(1 - observed / expected)


def krippendorff_alpha_ordinal(counts: np.ndarray) -> float:
    """Krippendorff's α with the ordinal metric, from a units × ordered values table of counts.

    Built from the coincidence matrix o_ck = Σ_u n_uc (n_uk − [c = k]) / (m_u − 1) over units with
    at least two values (Krippendorff 2011). The ordinal distance δ_ck = Σ_{g=c..k} n_g − (n_c + n_k)/2
    equals the gap between the values' mid-ranks, so α = 1 − (n − 1) Σ o_ck δ²_ck / Σ n_c n_k δ²_ck.
    Missing values simply lower a unit's count. NaN when nothing is pairable or nothing varies.
    """
    counts = np.asarray(counts, dtype=float)
    counts = counts[counts.sum(axis=1) >= 2]
    pair_weight = 1 / (counts.sum(axis=1) - 1)
    coincidence = np.einsum("uc,uk,u->ck", counts, counts, pair_weight) - np.diag(pair_weight @ counts)
    value_totals = coincidence.sum(axis=1)
    mid_rank = value_totals.cumsum() - value_totals / 2
    distance = (mid_rank[:, None] - mid_rank[None, :]) ** 2
    expected = value_totals @ distance @ value_totals
    if expected <= 0:
        return math.nan
    return float(1 - (value_totals.sum() - 1) * (coincidence * distance).sum() / expected)


def call_agreement(ratings: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95) -> dict:
    """Fleiss' κ of the real / synthetic calls across reviewers, images as items."""
    table = checked_ratings(ratings)
    return _agreement(
        fleiss_kappa, _counts_per_image(table, "call", ARMS), n_boot, seed, confidence,
        statistic="fleiss_kappa",
        method="Fleiss' kappa; images rated by different numbers of reviewers weighted as in Fleiss & Cuzick (1979)",
    )


def realism_agreement(ratings: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95) -> dict:
    """Krippendorff's α (ordinal metric) of the realism scores across reviewers, images as units."""
    table = checked_ratings(ratings)
    rated = table[table["realism"].notna()].assign(realism=lambda t: t["realism"].astype(int))
    return _agreement(
        krippendorff_alpha_ordinal, _counts_per_image(rated, "realism", tuple(REALISM_LEVELS)),
        n_boot, seed, confidence, statistic="krippendorff_alpha_ordinal",
        method="Krippendorff's alpha, ordinal metric (Krippendorff 2011)",
    )


def _counts_per_image(table: pd.DataFrame, column: str, categories: tuple) -> np.ndarray:
    """Images × categories: how many ratings of each image gave each answer."""
    per_image = table.groupby(["image", column]).size().unstack(fill_value=0)
    return per_image.reindex(columns=list(categories), fill_value=0).to_numpy(float)


def _agreement(
    coefficient, counts: np.ndarray, n_boot: int, seed: int, confidence: float, *, statistic: str, method: str
) -> dict:
    """An agreement coefficient with a bootstrap interval over images, or None and why."""
    pairable = counts[counts.sum(axis=1) >= 2]
    result = {"statistic": statistic, "method": method, "n_images": len(pairable), "n_ratings": int(pairable.sum())}
    if len(pairable) == 0:
        note = "no image was rated by two or more reviewers: agreement is undefined"
    elif (pairable.sum(axis=0) > 0).sum() < 2:
        note = "every rating of the shared images is the same: with no variation, agreement beyond chance is undefined"
    else:
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, len(pairable), size=(n_boot, len(pairable)))
        replicates = np.array([coefficient(pairable[draw]) for draw in draws])
        interval = _bootstrapped(coefficient(pairable), replicates, confidence, "variation")
        return _jsonable({**result, **interval, "ci_method": "bootstrap over images (percentile)"})
    return {**result, "estimate": None, "ci_low": None, "ci_high": None, "note": note}


# --------------------------------------------------------------------------- ABCD checklist


def abcd_answers(ratings: pd.DataFrame, *, seed: int = 0) -> list[dict]:
    """Per ABCD item: counts and shares of yes / no / unsure in each arm, and a test between arms."""
    table = checked_ratings(ratings)
    return _jsonable([_abcd_item(table, column, item, seed) for column, item in ABCD_ITEMS.items()])


def _abcd_item(table: pd.DataFrame, column: str, item: str, seed: int) -> dict:
    answered = table[table[column] != ""]
    counts = (
        answered.groupby(["source", column]).size().unstack(fill_value=0)
        .reindex(index=list(ARMS), columns=list(ABCD_ANSWERS), fill_value=0)
    )
    arms = {}
    for arm, row in counts.iterrows():
        n = int(row.sum())
        arms[arm] = {
            "n": n,
            "counts": {answer: int(row[answer]) for answer in ABCD_ANSWERS},
            "shares": {answer: row[answer] / n if n else None for answer in ABCD_ANSWERS},
        }
    return {
        "item": item,
        "n_unanswered": len(table) - len(answered),
        "arms": arms,
        "test": _arm_difference_test(counts.to_numpy(), seed),
    }


def _arm_difference_test(table: np.ndarray, seed: int) -> dict:
    """Do real and synthetic images get different answers? (arms × answers, ratings taken as independent)

    Pearson's chi-square when every expected count is at least 5 (Cochran's rule); otherwise
    Fisher's exact test, for 2×3 tables the Freeman–Halton extension with its p-value from 9,999
    Monte Carlo tables (seeded, so reproducible).
    """
    table = table[:, table.sum(axis=0) > 0]
    if (table.sum(axis=1) == 0).any():
        return {"method": None, "p_value": None, "note": "needs answers for both real and synthetic images"}
    if table.shape[1] < 2:
        return {"method": None, "p_value": None, "note": "every answer was the same: nothing to compare"}
    if stats.contingency.expected_freq(table).min() >= 5:
        result = stats.chi2_contingency(table, correction=False)
        return {"method": "Pearson chi-square test of independence", "p_value": result.pvalue, "note": None}
    if table.shape == (2, 2):
        return {"method": "Fisher's exact test", "p_value": stats.fisher_exact(table).pvalue, "note": None}
    monte_carlo = stats.MonteCarloMethod(n_resamples=9999, rng=np.random.default_rng(seed))
    return {
        "method": "Fisher-Freeman-Halton exact test (Monte Carlo p-value, 9,999 tables)",
        "p_value": stats.fisher_exact(table, method=monte_carlo).pvalue,
        "note": None,
    }


# --------------------------------------------------------------------------- per image, per reviewer


def image_summary(ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per image: n ratings, share judged real (a synthetic image's fooling rate), mean realism."""
    table = checked_ratings(ratings)
    summary = (
        table.assign(judged_real=table["call"] == "real")
        .groupby("image", sort=True)
        .agg(
            source=("source", "first"),
            fst_group=("fst_group", "first"),
            diagnosis=("diagnosis", "first"),
            n_ratings=("call", "size"),
            n_judged_real=("judged_real", "sum"),
            mean_realism=("realism", "mean"),
        )
        .reset_index()
    )
    summary["share_judged_real"] = summary["n_judged_real"] / summary["n_ratings"]
    return summary[
        ["image", "source", "fst_group", "diagnosis", "n_ratings", "n_judged_real", "share_judged_real", "mean_realism"]
    ]


REVIEWER_COLUMNS = (
    "reviewer", "n_ratings", "accuracy", "sensitivity", "specificity",
    "mean_realism_real", "mean_realism_synthetic",
    "n_timed", "seconds_median", "seconds_mean", "seconds_min", "seconds_q1", "seconds_q3", "seconds_max",
)


def reviewer_summary(ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per reviewer: n, detection rates (synthetic positive), mean realism per arm, time per image.

    The rows of reviewer_summary.csv; intervals and tests per reviewer are in `study_report`.
    """
    table = checked_ratings(ratings)
    rows = [_reviewer_row(reviewer, own) for reviewer, own in table.groupby("reviewer", sort=True)]
    return pd.DataFrame(rows, columns=list(REVIEWER_COLUMNS))


def _reviewer_row(reviewer: str, own: pd.DataFrame) -> dict:
    rates = _detection_rates(_cell_indicators(own).sum(axis=0))
    seconds = own["seconds"].dropna()
    realism = own.groupby("source")["realism"].mean()
    return {
        "reviewer": reviewer,
        "n_ratings": len(own),
        **{name: float(value) for name, value in rates.items()},
        "mean_realism_real": realism.get("real", math.nan),
        "mean_realism_synthetic": realism.get(POSITIVE, math.nan),
        "n_timed": len(seconds),
        "seconds_median": seconds.median(),
        "seconds_mean": seconds.mean(),
        "seconds_min": seconds.min(),
        "seconds_q1": seconds.quantile(0.25),
        "seconds_q3": seconds.quantile(0.75),
        "seconds_max": seconds.max(),
    }


# --------------------------------------------------------------------------- the whole study


GROUP_KINDS = ("reviewer", "fst_group", "diagnosis")


def group_stats(
    ratings: pd.DataFrame,
    by: str,
    *,
    margin: float = 0.10,
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> list[dict]:
    """Detection and realism within each reviewer, FST group (I-II, III-IV, V-VI) or diagnosis.

    FST groups are always listed, empty ones included; blanks are grouped as "unknown".
    """
    if by not in GROUP_KINDS:
        raise ValueError(f"by must be one of {GROUP_KINDS}, got {by!r}")
    table = checked_ratings(ratings)
    labels = table[by].replace("", UNKNOWN)
    if by == "fst_group":
        names = [*FST_GROUPS, *([UNKNOWN] if (labels == UNKNOWN).any() else [])]
    else:
        names = sorted(labels.unique())
    return [
        {
            "group": name,
            "n_ratings": int((labels == name).sum()),
            "detection": detection_stats(
                table[labels == name], margin=margin, alpha=alpha, n_boot=n_boot, seed=seed, confidence=confidence
            ),
            "realism": realism_stats(table[labels == name], n_boot=n_boot, seed=seed, confidence=confidence),
        }
        for name in names
    ]


def study_report(ratings: pd.DataFrame, *, margin: float = 0.10, n_boot: int = 2000, seed: int = 0) -> dict:
    """Everything the study reports, as a JSON-ready dictionary (numbers, None, lists, dicts).

    Overall and per reviewer / FST group / diagnosis: detection and realism. Study-wide: agreement
    between reviewers, ABCD answers, a row per image and per reviewer, and notes. Bootstraps use
    ``n_boot`` replicates from ``seed``, so the same ratings always give the same report.
    """
    table = checked_ratings(ratings)
    alpha, confidence = 0.05, 0.95
    settings = {"margin": margin, "alpha": alpha, "n_boot": n_boot, "seed": seed, "confidence": confidence}
    bootstrap = {"n_boot": n_boot, "seed": seed, "confidence": confidence}
    overall = {
        "group": "all",
        "n_ratings": len(table),
        "detection": detection_stats(table, margin=margin, alpha=alpha, **bootstrap),
        "realism": realism_stats(table, **bootstrap),
    }
    return _jsonable({
        "positive_class": POSITIVE,
        "settings": {**settings, "target_synthetic_judged_real": TARGET_SYNTHETIC_JUDGED_REAL},
        "n_ratings": len(table),
        "n_reviewers": table["reviewer"].nunique(),
        "n_images": table["image"].nunique(),
        "n_images_by_source": {arm: int(table.loc[table["source"] == arm, "image"].nunique()) for arm in ARMS},
        "overall": overall,
        **{f"by_{by}": group_stats(table, by, margin=margin, alpha=alpha, **bootstrap) for by in GROUP_KINDS},
        "agreement": {"calls": call_agreement(table, **bootstrap), "realism": realism_agreement(table, **bootstrap)},
        "abcd": abcd_answers(table, seed=seed),
        "images": image_summary(table).to_dict("records"),
        "reviewers": reviewer_summary(table).to_dict("records"),
        "notes": _study_notes(table, overall["detection"]),
    })


def _study_notes(table: pd.DataFrame, detection: dict) -> list[str]:
    """The headline caveats of the whole study, in plain words."""
    notes = [POSITIVE_CLASS_NOTE]
    if len(table) == 0:
        return [*notes, "no ratings yet"]
    notes += detection["notes"]
    if detection["equivalence"]["note"]:
        notes.append(detection["equivalence"]["note"])
    repeated = int(table.duplicated(["reviewer", "image"]).sum())
    if repeated:
        notes.append(f"{repeated} rating(s) repeat a reviewer-image pair; every rating is counted")
    return notes


# --------------------------------------------------------------------------- export


SUMMARY_COLUMNS = (
    "group_kind", "group", "metric", "estimate", "ci_low", "ci_high", "ci_method", "n", "p_value", "note",
)


def study_summary(report: dict) -> pd.DataFrame:
    """The report flattened to one row per (group kind, group, metric): the rows of study_summary.csv."""
    rows = []
    groups = [("all", report["overall"])] + [(by, group) for by in GROUP_KINDS for group in report[f"by_{by}"]]
    for kind, group in groups:
        rows += _detection_rows(kind, group["group"], group["detection"])
        rows += _realism_rows(kind, group["group"], group["realism"])
    for name, block in report["agreement"].items():
        rows.append(
            _row("agreement", name, block["statistic"], block, ci_method=block.get("ci_method"), n=block["n_ratings"])
        )
    for item in report["abcd"]:
        for arm, answers in item["arms"].items():
            for answer in ABCD_ANSWERS:
                share = {"estimate": answers["shares"][answer]}
                rows.append(_row("abcd", item["item"], f"share_{answer}_{arm}", share, n=answers["n"]))
        test = item["test"]
        rows.append(_row("abcd", item["item"], "real_vs_synthetic_test", {"note": test["note"]},
                         ci_method=test["method"], p_value=test["p_value"]))
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def _detection_rows(kind: str, group: str, detection: dict) -> list[dict]:
    clustered, equivalence, n = detection["cluster_bootstrap"], detection["equivalence"], detection["n_ratings"]
    p_values = {
        "accuracy": detection["binomial_test"]["p_value"],
        "synthetic_judged_real": detection["synthetic_judged_real"]["p_value_above_target"],
    }
    rows = []
    for name in ("accuracy", "sensitivity", "specificity", "synthetic_judged_real"):
        wilson = detection[name]
        rows.append(_row(kind, group, name, wilson, ci_method="wilson", p_value=p_values.get(name)))
        rows.append(_row(kind, group, f"{name}_cluster", clustered[name], ci_method="image bootstrap", n=wilson["n"]))
    return rows + [
        _row(kind, group, "accuracy_cluster_reviewers_random", clustered["accuracy_reviewers_random"],
             ci_method="image and reviewer (pigeonhole) bootstrap", n=n),
        _row(kind, group, "design_effect", {"estimate": clustered["design_effect"]}, n=n),
        _row(kind, group, "tost_equivalent",
             {"estimate": _flag(equivalence["equivalent"]), "note": equivalence["note"]},
             ci_method="exact binomial TOST", n=n, p_value=equivalence["p_value"]),
        _row(kind, group, "tost_equivalent_cluster",
             {**clustered["equivalence"], "estimate": _flag(clustered["equivalence"]["equivalent"])},
             ci_method=f"image bootstrap {clustered['equivalence']['level']:.0%} interval", n=n),
        _row(kind, group, "tost_power", {"estimate": equivalence["power"]}, n=n),
        _row(kind, group, "tost_ratings_needed", {"estimate": equivalence["ratings_needed"]}),
    ]


def _realism_rows(kind: str, group: str, realism: dict) -> list[dict]:
    rows = []
    for arm, block in realism["arms"].items():
        for statistic in ("mean", "median"):
            rows.append(_row(kind, group, f"realism_{statistic}_{arm}", block[statistic],
                             ci_method="image bootstrap", n=block["n"]))
    rows.append(_row(kind, group, "realism_auc", realism["auc"], ci_method="image bootstrap",
                     n=realism["n_ratings"], p_value=realism["mann_whitney"]["p_value"]))
    return rows


def _row(kind: str, group: str, metric: str, block: dict, *, ci_method=None, n=None, p_value=None) -> dict:
    return {
        "group_kind": kind,
        "group": group,
        "metric": metric,
        "estimate": block.get("estimate"),
        "ci_low": block.get("ci_low"),
        "ci_high": block.get("ci_high"),
        "ci_method": ci_method,
        "n": block.get("n", n),
        "p_value": p_value,
        "note": block.get("note"),
    }


def _flag(value: bool | None) -> float | None:
    """A yes / no result as 1 / 0 for a numeric CSV column (None stays None)."""
    return None if value is None else float(value)


def _jsonable(value):
    """Plain Python for json.dumps: numpy numbers become int / float / bool, NaN and inf become None."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is pd.NA or value is pd.NaT:
        return None
    return value
