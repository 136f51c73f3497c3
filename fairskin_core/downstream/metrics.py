"""How fair is a malignant-vs-benign classifier across Fitzpatrick skin types?

Per skin-type group: AUROC with a bootstrap CI, sensitivity at a fixed specificity, TPR and FPR at a
threshold, and expected calibration error; across types: the equal-opportunity and equalized-odds
gaps (fairlearn); and between two models trained with several seeds, a paired bootstrap CI of the
change in any metric. Small groups are the rule in dermatology test sets (few dark-skin melanomas),
so a metric that a group's cases cannot support is None with the reason, never an exception or a
number from three cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from fairlearn.metrics import equal_opportunity_difference, equalized_odds_difference, false_positive_rate, true_positive_rate
from numpy.typing import ArrayLike
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

from ..fst import FST_GROUPS, FST_TYPES, ROMAN, fst_group

MIN_PER_CLASS = 5  # positives and negatives a group needs for AUROC, sensitivity at specificity and ECE

# Skin types of each named group; "all" is every case, unknown skin type included.
_TYPES_OF: dict[str, tuple[int, ...]] = {
    **{ROMAN[fst]: (fst,) for fst in FST_TYPES},
    **{group: tuple(fst for fst in FST_TYPES if fst_group(fst) == group) for group in FST_GROUPS},
    "I-III": (1, 2, 3),  # the light-skin side of the research plan's verdict
}
GROUPS: tuple[str, ...] = ("all", *_TYPES_OF)

# Specificities are ratios of counts compared with a target like 0.9: keep 9/10 from failing 0.9 by rounding.
_RATIO_TOLERANCE = 1e-9


@dataclass(frozen=True)
class NotComputable:
    """Why a metric has no value; written to reports as ``{"value": None, "reason": ...}``."""

    reason: str

    def to_json(self) -> dict:
        return {"value": None, "reason": self.reason}


def group_masks(fst: ArrayLike) -> dict[str, np.ndarray]:
    """Which cases belong to each group of GROUPS, from skin types 1–6 with NaN or None for unknown."""
    types = _skin_types(fst)
    return {"all": np.ones(len(types), dtype=bool), **{group: np.isin(types, members) for group, members in _TYPES_OF.items()}}


def auroc(y: ArrayLike, score: ArrayLike) -> float:
    """Area under the ROC curve (sklearn); y must hold both classes."""
    y = _labels(y)
    _require_both_classes(y)
    return float(roc_auc_score(y, np.asarray(score, dtype=float)))


def expected_calibration_error(y: ArrayLike, probability: ArrayLike, n_bins: int = 10) -> float:
    """Case-weighted mean |mean probability − malignant frequency| over equal-width bins of [0, 1].

    Bins are [k/n_bins, (k+1)/n_bins), the last one closed so that a probability of 1.0 falls in it.
    """
    y, probability = _labels(y), _probabilities(probability)
    bins = np.minimum((probability * n_bins).astype(int), n_bins - 1)
    # Per bin, (n_bin / n) · |Σp / n_bin − Σy / n_bin| = |Σp − Σy| / n; empty bins add nothing.
    gaps = np.bincount(bins, weights=probability, minlength=n_bins) - np.bincount(bins, weights=y, minlength=n_bins)
    return float(np.abs(gaps).sum() / len(y))


def sensitivity_at_specificity(y: ArrayLike, score: ArrayLike, specificity: float = 0.9) -> float:
    """Highest TPR over the ROC thresholds whose specificity (1 − FPR) is at least ``specificity``.

    Every threshold is kept (no dropped intermediate points), so ties between classes cannot hide a better one. The ROC
    points are sklearn's ``roc_curve(drop_intermediate=False)``, counted here: the bootstraps call this thousands of
    times, and sklearn's input checks took most of that time.
    """
    y = _labels(y)
    _require_both_classes(y)
    score = np.asarray(score, dtype=float)
    if score.shape != y.shape or not np.isfinite(score).all():
        raise ValueError(f"scores must be {len(y)} finite numbers, one per label")
    order = np.argsort(-score, kind="stable")
    last_of_ties = np.r_[np.flatnonzero(np.diff(score[order])), len(y) - 1]  # each distinct score as the threshold
    true_positives = np.r_[0, np.cumsum(y[order])[last_of_ties]]
    false_positives = np.r_[0, last_of_ties + 1 - true_positives[1:]]
    fpr, tpr = false_positives / false_positives[-1], true_positives / true_positives[-1]
    return float(tpr[1 - fpr >= specificity - _RATIO_TOLERANCE].max())


def stratified_bootstrap_indices(y: ArrayLike, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap resamples of case indices, shape (n_boot, n), drawn within each class.

    Each case's position is refilled by a random case of its own class, so ``y[rows]`` equals ``y`` for
    every resample: each has both classes whenever y has, and the AUROC is defined on all of them.
    """
    y = _labels(y)
    rng = np.random.default_rng(seed)
    rows = np.empty((n_boot, len(y)), dtype=np.intp)
    for label in (1, 0):
        members = np.flatnonzero(y == label)
        rows[:, members] = rng.choice(members, size=(n_boot, members.size))
    return rows


def auroc_with_ci(y: ArrayLike, score: ArrayLike, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """AUROC and its percentile CI over stratified bootstrap resamples: (point, low, high)."""
    y, score = _labels(y), np.asarray(score, dtype=float)
    point = auroc(y, score)
    resampled = _rank_auroc(y == 1, score[stratified_bootstrap_indices(y, n_boot, seed)])
    low, high = _percentile_interval(resampled, level)
    return point, low, high


@dataclass(frozen=True)
class GroupMetrics:
    """A group's classifier metrics; the ones its cases cannot support are None, and ``reason`` says why."""

    group: str
    n: int
    n_positive: int
    auroc: float | None
    auroc_low: float | None
    auroc_high: float | None
    sensitivity_at_specificity: float | None
    tpr: float | None
    fpr: float | None
    ece: float | None
    reason: str = ""


def group_metrics(
    y: ArrayLike,
    probability: ArrayLike,
    fst: ArrayLike,
    threshold: float = 0.5,
    specificity: float = 0.9,
    n_boot: int = 1000,
    seed: int = 0,
) -> list[GroupMetrics]:
    """Metrics of every group in GROUPS, empty ones included; a case is called malignant when probability >= threshold.

    AUROC (with CI), sensitivity at ``specificity`` and ECE need MIN_PER_CLASS positives and negatives;
    TPR needs one positive, FPR one negative.
    """
    y, probability, types = _cases(y, probability, fst)
    predicted = (probability >= threshold).astype(int)
    return [
        _metrics_of(group, y[mask], probability[mask], predicted[mask], specificity, n_boot, seed)
        for group, mask in group_masks(types).items()
    ]


@dataclass(frozen=True)
class FairnessGaps:
    """Gaps in how often melanomas are caught (and benign lesions flagged) between skin types, at one threshold.

    ``eod_signed`` is TPR(V-VI) − TPR(I-II): negative when dark skin's malignant lesions are missed more.
    ``eod_max_min`` (largest − smallest TPR) and ``equalized_odds`` (the larger of the TPR and FPR gaps)
    are fairlearn's, over the single types in ``groups_used``. ``reason`` says what was left out and why.
    """

    eod_signed: float | None
    eod_max_min: float | None
    equalized_odds: float | None
    groups_used: tuple[str, ...]
    reason: str = ""


def fairness_gaps(y: ArrayLike, probability: ArrayLike, fst: ArrayLike, threshold: float = 0.5) -> FairnessGaps:
    """Equal-opportunity and equalized-odds gaps between skin types; cases of unknown skin type are left out.

    The max–min gaps use the single types with MIN_PER_CLASS positives and negatives (at least two of
    them); the signed gap needs MIN_PER_CLASS positives in both I-II and V-VI.
    """
    y, probability, types = _cases(y, probability, fst)
    predicted = (probability >= threshold).astype(int)
    reasons = []

    light, dark = (np.isin(types, _TYPES_OF[group]) for group in ("I-II", "V-VI"))
    light_positives, dark_positives = int(y[light].sum()), int(y[dark].sum())
    eod_signed = None
    if min(light_positives, dark_positives) >= MIN_PER_CLASS:
        eod_signed = float(true_positive_rate(y[dark], predicted[dark]) - true_positive_rate(y[light], predicted[light]))
    else:
        reasons.append(
            f"signed gap: I-II has {light_positives} and V-VI {dark_positives} positive cases; needs at least {MIN_PER_CLASS} in each"
        )

    usable, left_out = [], []
    for fst_type in FST_TYPES:
        too_few = _too_few(ROMAN[fst_type], y[types == fst_type])
        if too_few:
            left_out.append(f"{ROMAN[fst_type]} ({too_few.reason})")
        else:
            usable.append(fst_type)
    if left_out:
        reasons.append(f"left out of the max-min gaps: {', '.join(left_out)}")

    eod_max_min = equalized_odds = None
    if len(usable) >= 2:
        used = np.isin(types, usable)
        gap_inputs = {"y_true": y[used], "y_pred": predicted[used], "sensitive_features": types[used]}
        eod_max_min = float(equal_opportunity_difference(**gap_inputs))
        equalized_odds = float(equalized_odds_difference(**gap_inputs))
    else:
        reasons.append(f"max-min gaps: {len(usable)} skin type(s) with enough cases; needs at least 2")

    return FairnessGaps(eod_signed, eod_max_min, equalized_odds, tuple(ROMAN[fst_type] for fst_type in usable), "; ".join(reasons))


Statistic = Callable[[np.ndarray, np.ndarray], float]


def paired_difference_ci(
    y: ArrayLike, scores_a: ArrayLike, scores_b: ArrayLike, statistic: Statistic, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """How much model B changes ``statistic`` over model A: (difference, low, high).

    ``scores_a`` and ``scores_b`` are (n_seeds, n): one row per training seed, on the same test cases
    (the seed counts may differ; a 1-D array is one seed). The difference is the mean over B's seeds
    minus the mean over A's seeds; its percentile CI resamples the test cases with the same stratified
    bootstrap resamples for both models, so case difficulty shared by both cancels out.
    """
    mean_a, mean_b = _seed_means(y, scores_a, scores_b, statistic, n_boot, seed)
    return _estimate_with_interval(mean_b - mean_a, level)


def paired_relative_change_ci(
    y: ArrayLike, scores_a: ArrayLike, scores_b: ArrayLike, statistic: Statistic, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """As `paired_difference_ci`, for the relative change mean_b / mean_a − 1: (change, low, high)."""
    mean_a, mean_b = _seed_means(y, scores_a, scores_b, statistic, n_boot, seed)
    return _estimate_with_interval(mean_b / mean_a - 1, level)


def paired_gap_closed_ci(
    y: ArrayLike, baseline: ArrayLike, arm: ArrayLike, oracle: ArrayLike, statistic: Statistic, n_boot: int = 1000, seed: int = 0,
    level: float = 0.95,
) -> tuple[float | None, float | None, float | None, str]:
    """The fraction of the baseline → oracle gain in ``statistic`` that ``arm`` achieves, (arm − baseline) / (oracle − baseline),
    with a CI from the same stratified resamples for all three models: (fraction, low, high, reason). Where the oracle's own
    gain is not clearly above 0 (its CI reaches 0) there is no gap to close: None and the reason."""
    y = _labels(y)
    resamples = _resamples(y, n_boot, seed)
    base, mine, best = (_seed_mean(y, _seed_runs(y, scores), statistic, resamples) for scores in (baseline, arm, oracle))
    gain_low, gain_high = _percentile_interval((best - base)[1:], level)
    if gain_low <= 0:
        return None, None, None, (f"the oracle's own gain is {best[0] - base[0]:+.3f} (95% CI {gain_low:+.3f} to {gain_high:+.3f}): "
                                  "no clear gap to close")
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(best - base > 0, (mine - base) / (best - base), np.nan)
    low, high = np.nanquantile(fraction[1:], [(1 - level) / 2, (1 + level) / 2])
    return float(fraction[0]), float(low), float(high), ""


def _metrics_of(
    group: str, y: np.ndarray, probability: np.ndarray, predicted: np.ndarray, specificity: float, n_boot: int, seed: int
) -> GroupMetrics:
    n_positive, n_negative = _class_counts(y)
    tpr = float(true_positive_rate(y, predicted)) if n_positive else None
    fpr = float(false_positive_rate(y, predicted)) if n_negative else None
    too_few = _too_few(group, y)
    if too_few:
        return GroupMetrics(group, len(y), n_positive, None, None, None, None, tpr, fpr, None, too_few.reason)
    point, low, high = auroc_with_ci(y, probability, n_boot, seed)
    sensitivity = sensitivity_at_specificity(y, probability, specificity)
    return GroupMetrics(group, len(y), n_positive, point, low, high, sensitivity, tpr, fpr, expected_calibration_error(y, probability))


def _seed_mean(y: np.ndarray, scores: np.ndarray, statistic: Statistic, resamples: np.ndarray) -> np.ndarray:
    """Mean over the seeds (rows of ``scores``) of ``statistic`` on each resample of cases."""
    if statistic is auroc:  # the same numbers by ranks, every resample at once (resamples keep y in place)
        return np.mean([_rank_auroc(y == 1, run[resamples]) for run in scores], axis=0)
    return np.array([np.mean([statistic(y[rows], run[rows]) for run in scores]) for rows in resamples])


def _resamples(y: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """The test set itself (row 0), then the stratified bootstrap resamples."""
    return np.vstack([np.arange(len(y)), stratified_bootstrap_indices(y, n_boot, seed)])


def _seed_runs(y: np.ndarray, scores: ArrayLike) -> np.ndarray:
    runs = np.atleast_2d(np.asarray(scores, dtype=float))
    if runs.shape[1] != len(y):
        raise ValueError(f"scores must be (n_seeds, {len(y)}), got {runs.shape}")
    return runs


def _seed_means(
    y: ArrayLike, scores_a: ArrayLike, scores_b: ArrayLike, statistic: Statistic, n_boot: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds of ``statistic`` for A and for B: on the test set itself (element 0), then on each shared resample."""
    y = _labels(y)
    runs_a, runs_b = _seed_runs(y, scores_a), _seed_runs(y, scores_b)
    resamples = _resamples(y, n_boot, seed)
    return _seed_mean(y, runs_a, statistic, resamples), _seed_mean(y, runs_b, statistic, resamples)


def seed_mean_with_ci(
    y: ArrayLike, scores: ArrayLike, statistic: Statistic, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """One model's ``statistic`` averaged over its seeds (rows of ``scores``), with a stratified bootstrap CI of that mean."""
    y = _labels(y)
    return _estimate_with_interval(_seed_mean(y, _seed_runs(y, scores), statistic, _resamples(y, n_boot, seed)), level)


def _estimate_with_interval(values: np.ndarray, level: float) -> tuple[float, float, float]:
    """(values[0], low, high): the estimate on the test set, then the percentile CI of the resampled rest."""
    low, high = _percentile_interval(values[1:], level)
    return float(values[0]), low, high


def _percentile_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def _rank_auroc(positive: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AUROC of each row of ``scores`` (cases in columns) by the Mann–Whitney rank sum, ties counting half.

    The same number as roc_auc_score, for a thousand resamples at once instead of a thousand calls.
    """
    n_positive = int(positive.sum())
    n_negative = positive.size - n_positive
    positive_rank_sums = rankdata(scores, axis=1)[:, positive].sum(axis=1)
    return (positive_rank_sums - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative)


def _cases(y: ArrayLike, probability: ArrayLike, fst: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y, probability, types = _labels(y), _probabilities(probability), _skin_types(fst)
    if not len(y) == len(probability) == len(types):
        raise ValueError(f"y, probability and fst differ in length: {len(y)}, {len(probability)}, {len(types)}")
    return y, probability, types


def _labels(y: ArrayLike) -> np.ndarray:
    y = np.asarray(y)
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (benign) or 1 (malignant)")
    return y.astype(int)


def _probabilities(probability: ArrayLike) -> np.ndarray:
    probability = np.asarray(probability, dtype=float)
    if not ((probability >= 0) & (probability <= 1)).all():
        raise ValueError("probabilities must lie in [0, 1]")
    return probability


def _skin_types(fst: ArrayLike) -> np.ndarray:
    """Skin types as floats with NaN for unknown (None or NaN); any other value than 1–6 is an error."""
    types = np.array([np.nan if value is None else float(value) for value in np.asarray(fst, dtype=object)], dtype=float)
    known = types[~np.isnan(types)]
    if not np.isin(known, FST_TYPES).all():
        raise ValueError(f"skin types must be 1-6 or unknown, got {sorted(set(known) - set(FST_TYPES))}")
    return types


def _require_both_classes(y: np.ndarray) -> None:
    n_positive, n_negative = _class_counts(y)
    if not (n_positive and n_negative):
        raise ValueError(f"needs both classes, got {_counts(n_positive, n_negative)}")


def _class_counts(y: np.ndarray) -> tuple[int, int]:
    n_positive = int(y.sum())
    return n_positive, len(y) - n_positive


def _counts(n_positive: int, n_negative: int) -> str:
    return f"{n_positive} positive and {n_negative} negative cases"


def _too_few(group: str, y: np.ndarray) -> NotComputable | None:
    """Why a group's cases cannot support AUROC, sensitivity at specificity and ECE; None when they can."""
    n_positive, n_negative = _class_counts(y)
    if len(y) == 0 and group == "all":
        return NotComputable("no test case")
    if len(y) == 0:
        return NotComputable(f"no test case of skin type{'s' if len(_TYPES_OF[group]) > 1 else ''} {group}")
    if min(n_positive, n_negative) < MIN_PER_CLASS:
        return NotComputable(f"{_counts(n_positive, n_negative)}; needs at least {MIN_PER_CLASS} of each")
    return None
