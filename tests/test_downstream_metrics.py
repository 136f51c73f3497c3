"""Classifier fairness metrics per skin type: hand-computed values, bias detection, CI coverage, small groups."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score, roc_curve

from fairskin_core.downstream.metrics import (
    GROUPS,
    MIN_PER_CLASS,
    NotComputable,
    auroc,
    auroc_with_ci,
    expected_calibration_error,
    fairness_gaps,
    group_masks,
    group_metrics,
    paired_difference_ci,
    paired_relative_change_ci,
    sensitivity_at_specificity,
    stratified_bootstrap_indices,
)


def by_group(metrics):
    return {m.group: m for m in metrics}


def binormal(rng, n_positive, n_negative, separation):
    """Labels and scores with positives ~ N(separation, 1), negatives ~ N(0, 1): true AUROC Φ(separation / √2)."""
    y = np.r_[np.ones(n_positive, dtype=int), np.zeros(n_negative, dtype=int)]
    return y, rng.normal(separation * y, 1.0)


def cohort(rng, n_per_type):
    """Every skin type 1–6, n_per_type cases each, half malignant; a good classifier's probabilities."""
    fst = np.repeat(np.arange(1, 7), n_per_type).astype(float)
    y = rng.permutation(np.tile([0, 1], len(fst) // 2))
    probability = np.clip(0.15 + 0.7 * y + rng.normal(0, 0.1, len(y)), 0, 1)
    return y, probability, fst


def type_block(fst, n_positive, n_caught, n_negative, n_flagged):
    """Cases of one skin type: n_caught of the positives and n_flagged of the negatives called malignant at 0.5."""
    y = np.r_[np.ones(n_positive), np.zeros(n_negative)].astype(int)
    called = np.r_[np.arange(n_positive) < n_caught, np.arange(n_negative) < n_flagged]
    return y, np.where(called, 0.9, 0.1), np.full(len(y), fst, dtype=object)


def concatenate(blocks):
    return tuple(np.concatenate(parts) for parts in zip(*blocks, strict=True))


def test_group_masks_cover_single_types_groups_and_unknown_only_in_all():
    masks = group_masks([1, 2, 3, 4, 5, 6, np.nan, None])
    assert tuple(masks) == GROUPS == ("all", "I", "II", "III", "IV", "V", "VI", "I-II", "III-IV", "V-VI", "I-III")
    assert masks["all"].tolist() == [True] * 8
    assert np.flatnonzero(masks["II"]).tolist() == [1]
    assert np.flatnonzero(masks["V-VI"]).tolist() == [4, 5]
    assert np.flatnonzero(masks["I-III"]).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="1-6"):
        group_masks([1, 7])


def test_auroc_by_hand_with_a_tie():
    # Positives 0.9, 0.7, 0.4, 0.3; negatives 0.6, 0.4, 0.2, 0.1. Pairs a positive wins: 4 + 4 + (2 + ½ for the
    # tie at 0.4) + 2 = 12.5 of 16 → 0.78125.
    y = [1, 1, 1, 1, 0, 0, 0, 0]
    assert auroc(y, [0.9, 0.7, 0.4, 0.3, 0.6, 0.4, 0.2, 0.1]) == pytest.approx(0.78125)
    with pytest.raises(ValueError, match="both classes"):
        auroc([0, 0, 0], [0.1, 0.2, 0.3])


def test_expected_calibration_error_by_hand_and_1_in_the_last_bin():
    # Bin [0, 0.1): p 0.05, 0.05, y 0, 0 → |0.1 − 0| = 0.1.  Bin [0.3, 0.4): p 0.3 ×3, y 1, 0, 0 → |0.9 − 1| = 0.1.
    # Bin [0.9, 1.0]: p 0.95, 0.95, 1.0, y 1, 1, 0 → |2.9 − 2| = 0.9.  ECE = Σ |Σp − Σy| / n = 1.1 / 8 = 0.1375.
    # (Were 1.0 a bin of its own: |1.9 − 2| + |1.0 − 0| = 1.1 for the last two, and ECE 1.3 / 8 = 0.1625.)
    y = [0, 0, 1, 0, 0, 1, 1, 0]
    probability = [0.05, 0.05, 0.3, 0.3, 0.3, 0.95, 0.95, 1.0]
    assert expected_calibration_error(y, probability) == pytest.approx(0.1375)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        expected_calibration_error([0, 1], [0.5, 1.2])


def test_expected_calibration_error_of_calibrated_and_overconfident_classifiers():
    rng = np.random.default_rng(0)
    probability = rng.uniform(0, 1, 100_000)
    calibrated_y = (rng.uniform(0, 1, probability.size) < probability).astype(int)
    assert expected_calibration_error(calibrated_y, probability) < 0.01
    # Always 0.9 on a set that is half malignant: one bin, |0.9 − 0.5| = 0.4.
    assert expected_calibration_error(np.tile([0, 1], 50), np.full(100, 0.9)) == pytest.approx(0.4)


def test_sensitivity_at_specificity_by_hand():
    # Ten negatives, so specificity 0.9 allows 1 false positive, 0.7 allows 3, 1.0 none.
    # Calling scores >= 0.9 malignant flags one negative (0.95) and catches 0.99, 0.9: TPR 2/4; at 0.85 a second negative.
    # Scores >= 0.75 flag three (0.8, 0.85, 0.95) and catch three positives: TPR 3/4. Scores >= 0.99: no negative, TPR 1/4.
    negatives = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.95]
    positives = [0.99, 0.9, 0.75, 0.3]
    y, score = [0] * 10 + [1] * 4, negatives + positives
    assert sensitivity_at_specificity(y, score, 0.9) == pytest.approx(0.5)
    assert sensitivity_at_specificity(y, score, 0.7) == pytest.approx(0.75)
    assert sensitivity_at_specificity(y, score, 1.0) == pytest.approx(0.25)
    # Specificity 0.2 allows 8 false positives: scores >= 0.3 flag exactly 8 and catch all four (1 − 8/10 is 0.19999… in floats).
    assert sensitivity_at_specificity(y, score, 0.2) == pytest.approx(1.0)


def test_sensitivity_at_specificity_equals_sklearns_roc_curve_exactly():
    """Counted by numpy: the same floats as the highest TPR of sklearn's ROC points, ties and every operating point included."""
    rng = np.random.default_rng(5)
    for n in (6, 40, 161):
        y = rng.integers(0, 2, n)
        y[:2] = [0, 1]
        for score in (rng.uniform(0, 1, n), rng.integers(0, 5, n) / 4, np.round(y * 0.3 + rng.uniform(0, 1, n), 1)):
            fpr, tpr, _ = roc_curve(y, score, drop_intermediate=False)
            for specificity in (0.0, 0.2, 0.5, 0.8, 0.9, 0.95, 1.0, 1 - 3 / max(1, (y == 0).sum())):
                assert sensitivity_at_specificity(y, score, specificity) == float(tpr[1 - fpr >= specificity - 1e-9].max())


def test_group_metrics_tpr_fpr_and_auroc_by_hand():
    # Type I, five positives 0.5, 0.6, 0.9, 0.7, 0.2: four at or above 0.5 → TPR 0.8.
    # Five negatives 0.1, 0.2, 0.3, 0.55, 0.4: one at or above 0.5 → FPR 0.2.
    # AUROC: positive 0.5 beats 4 negatives, 0.6, 0.9, 0.7 beat 5 each, 0.2 beats 0.1 and ties 0.2 → 20.5 / 25 = 0.82.
    y = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    probability = [0.5, 0.6, 0.9, 0.7, 0.2, 0.1, 0.2, 0.3, 0.55, 0.4]
    metrics = by_group(group_metrics(y, probability, [1] * 10, n_boot=200))
    for group in ("all", "I", "I-II", "I-III"):
        m = metrics[group]
        assert (m.n, m.n_positive, m.reason) == (10, 5, "")
        assert (m.tpr, m.fpr, m.auroc) == (pytest.approx(0.8), pytest.approx(0.2), pytest.approx(0.82))
        assert m.auroc_low <= m.auroc <= m.auroc_high
        assert m.ece == pytest.approx(expected_calibration_error(y, probability))


def test_bootstrap_resamples_stay_in_class_and_match_sklearn_auroc():
    rng = np.random.default_rng(1)
    y, score = binormal(rng, 15, 25, 1.0)
    rows = stratified_bootstrap_indices(y, 200, seed=3)
    assert rows.shape == (200, 40)
    assert (y[rows] == y).all()
    assert len({tuple(r) for r in rows}) == 200
    # The CI's bounds are the percentiles of sklearn's AUROC on these very resamples.
    resampled = [roc_auc_score(y, score[r]) for r in rows]
    point, low, high = auroc_with_ci(y, score, n_boot=200, seed=3)
    assert point == pytest.approx(roc_auc_score(y, score))
    assert (low, high) == pytest.approx(tuple(np.quantile(resampled, [0.025, 0.975])))


def test_auroc_ci_covers_the_true_auroc_of_binormal_scores():
    separation = 1.0
    true_auroc = norm.cdf(separation / np.sqrt(2))
    rng = np.random.default_rng(2)
    covered = []
    for simulation in range(200):
        y, score = binormal(rng, 60, 60, separation)
        _, low, high = auroc_with_ci(y, score, n_boot=300, seed=simulation)
        covered.append(low <= true_auroc <= high)
    assert 0.88 <= np.mean(covered) <= 0.99


def test_same_seed_same_numbers_other_seed_other_ci():
    rng = np.random.default_rng(3)
    y, probability, fst = cohort(rng, 30)
    assert group_metrics(y, probability, fst, n_boot=100, seed=7) == group_metrics(y, probability, fst, n_boot=100, seed=7)
    y, score = binormal(rng, 30, 30, 1.0)
    assert auroc_with_ci(y, score, n_boot=200, seed=7) == auroc_with_ci(y, score, n_boot=200, seed=7)
    _, *ci_seed_7 = auroc_with_ci(y, score, n_boot=200, seed=7)
    _, *ci_seed_8 = auroc_with_ci(y, score, n_boot=200, seed=8)
    assert ci_seed_7 != ci_seed_8


def test_biased_classifier_that_misses_dark_skin_shows_large_gaps():
    rng = np.random.default_rng(4)
    y, probability, fst = cohort(rng, 100)
    unbiased = fairness_gaps(y, probability, fst)
    assert abs(unbiased.eod_signed) < 0.1 and unbiased.eod_max_min < 0.1 and unbiased.equalized_odds < 0.1
    assert unbiased.groups_used == ("I", "II", "III", "IV", "V", "VI") and unbiased.reason == ""

    biased = fairness_gaps(y, np.where(fst >= 5, 0.05, probability), fst)  # benign for every V–VI case
    assert biased.eod_signed <= -0.8
    assert biased.eod_max_min >= 0.8 and biased.equalized_odds >= 0.8


def test_max_min_gaps_agree_with_per_type_rates_by_hand():
    # TPR I–V = 10/10, 9/10, 8/10, 7/10, 4/10 → max − min 0.6; FPR = 0, 1/10, 2/10, 8/10, 0 → gap 0.8, so equalized odds 0.8.
    # VI has 3 positives (left out) and the unknown-type cases, all missed, must not count either.
    y, probability, fst = concatenate(
        [
            type_block(1, 10, 10, 10, 0),
            type_block(2, 10, 9, 10, 1),
            type_block(3, 10, 8, 10, 2),
            type_block(4, 10, 7, 10, 8),
            type_block(5, 10, 4, 10, 0),
            type_block(6, 3, 0, 10, 0),
            type_block(None, 10, 0, 10, 10),
        ]
    )
    gaps = fairness_gaps(y, probability, fst)
    assert gaps.groups_used == ("I", "II", "III", "IV", "V")
    assert "VI (3 positive and 10 negative cases" in gaps.reason
    assert gaps.eod_max_min == pytest.approx(1.0 - 0.4)
    assert gaps.equalized_odds == pytest.approx(0.8)
    called = probability >= 0.5
    per_type_tpr = [called[(fst == t) & (y == 1)].mean() for t in range(1, 6)]
    assert gaps.eod_max_min == pytest.approx(max(per_type_tpr) - min(per_type_tpr))
    # Signed: V-VI catches 4 of 13, I-II 19 of 20.
    assert gaps.eod_signed == pytest.approx(4 / 13 - 19 / 20)


def test_small_and_one_class_groups_are_not_computable_with_counts():
    rng = np.random.default_rng(5)
    big_y, big_probability, _ = cohort(rng, 20)
    y = np.r_[big_y[:40], np.zeros(8, dtype=int), [1, 1, 1, 0, 0, 0]]
    probability = np.r_[big_probability[:40], np.full(8, 0.7), [0.8, 0.3, 0.6, 0.2, 0.6, 0.1]]
    fst = np.r_[np.full(40, 1.0), np.full(8, 5.0), np.full(6, 6.0)]
    metrics = by_group(group_metrics(y, probability, fst, n_boot=50))

    one_class = metrics["V"]
    assert (one_class.n, one_class.n_positive) == (8, 0)
    assert one_class.auroc is one_class.auroc_low is one_class.sensitivity_at_specificity is one_class.ece is one_class.tpr is None
    assert one_class.fpr == pytest.approx(1.0)
    assert one_class.reason == f"0 positive and 8 negative cases; needs at least {MIN_PER_CLASS} of each"

    too_few = metrics["VI"]
    assert too_few.auroc is None and "3 positive and 3 negative cases" in too_few.reason
    assert (too_few.tpr, too_few.fpr) == (pytest.approx(2 / 3), pytest.approx(1 / 3))
    assert metrics["V-VI"].auroc is None and "3 positive and 11 negative" in metrics["V-VI"].reason
    assert metrics["IV"].n == 0 and metrics["IV"].tpr is None and metrics["IV"].reason == "no test case of skin type IV"
    assert metrics["I"].auroc is not None and metrics["all"].auroc is not None

    gaps = fairness_gaps(y, probability, fst)
    assert gaps.eod_signed is None and "V-VI 3 positive" in gaps.reason
    assert gaps.eod_max_min is None and gaps.equalized_odds is None and gaps.groups_used == ("I",)


def test_no_known_skin_type_leaves_only_all_computable():
    rng = np.random.default_rng(6)
    y, probability, _ = cohort(rng, 10)
    fst = [None, np.nan] * (len(y) // 2)
    metrics = by_group(group_metrics(y, probability, fst, n_boot=50))
    assert metrics["all"].n == 60 and metrics["all"].auroc is not None and metrics["all"].reason == ""
    assert all(metrics[g].n == 0 and metrics[g].auroc is None and metrics[g].tpr is None for g in GROUPS[1:])
    assert metrics["I-II"].reason == "no test case of skin types I-II"
    gaps = fairness_gaps(y, probability, fst)
    assert (gaps.eod_signed, gaps.eod_max_min, gaps.equalized_odds, gaps.groups_used) == (None, None, None, ())
    assert "0 skin type(s) with enough cases" in gaps.reason


def test_not_computable_is_written_as_a_value_with_a_reason():
    assert NotComputable("3 positive").to_json() == {"value": None, "reason": "3 positive"}


def test_paired_ci_of_identical_models_is_exactly_zero():
    rng = np.random.default_rng(7)
    y, _ = binormal(rng, 20, 20, 0)
    scores = np.stack([binormal(rng, 20, 20, 1.0)[1] for _ in range(2)])
    assert paired_difference_ci(y, scores, scores.copy(), auroc, n_boot=50) == (0.0, 0.0, 0.0)
    assert paired_relative_change_ci(y, scores, scores.copy(), auroc, n_boot=50) == (0.0, 0.0, 0.0)


def test_paired_ci_of_a_clearly_better_model_is_above_zero():
    rng = np.random.default_rng(8)
    y, _ = binormal(rng, 40, 40, 0)
    weak = np.stack([binormal(rng, 40, 40, 0.3)[1] for _ in range(3)])
    strong = np.stack([binormal(rng, 40, 40, 2.0)[1] for _ in range(3)])
    difference, low, high = paired_difference_ci(y, weak, strong, auroc, n_boot=100)
    assert 0 < low < difference < high
    change, low, high = paired_relative_change_ci(y, weak, strong, auroc, n_boot=100)
    assert 0 < low < change < high


def test_paired_estimates_average_over_each_models_seeds():
    rng = np.random.default_rng(9)
    y, _ = binormal(rng, 20, 20, 0)
    scores_a = np.stack([binormal(rng, 20, 20, 0.5)[1] for _ in range(3)])
    scores_b = np.stack([binormal(rng, 20, 20, 1.5)[1] for _ in range(2)])
    mean_a = np.mean([roc_auc_score(y, s) for s in scores_a])
    mean_b = np.mean([roc_auc_score(y, s) for s in scores_b])
    assert paired_difference_ci(y, scores_a, scores_b, auroc, n_boot=20)[0] == pytest.approx(mean_b - mean_a)
    assert paired_relative_change_ci(y, scores_a, scores_b, auroc, n_boot=20)[0] == pytest.approx(mean_b / mean_a - 1)
    with pytest.raises(ValueError, match="n_seeds"):
        paired_difference_ci(y, scores_a[:, :10], scores_b, auroc, n_boot=20)
