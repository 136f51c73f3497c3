"""review_data.stats and review_data.figures against independent computations.

Every statistic is checked against another implementation (statsmodels, scipy, scikit-learn,
the krippendorff package), a formula written out here, or a published worked example; simulated
studies with known reviewer behaviour check that the numbers respond the right way.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from fractions import Fraction

import krippendorff
import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from sklearn.metrics import roc_auc_score
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss_kappa
from statsmodels.stats.proportion import proportion_confint

from fairskin_core.fst import FST_GROUPS
from fairskin_core.plots import TITLE_WIDTH
from review_data import figures
from review_data import stats as review_stats
from review_data.export import SUMMARY_COLUMNS, study_summary
from review_data.study_markdown import headline

ANSWERS = ("yes", "no", "unsure")
N_BOOT = 400  # enough for the properties tested here, and fast


def simulated_ratings(
    *,
    n_reviewers: int = 6,
    n_images: int = 60,
    p_correct=0.5,
    realism_range: dict | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Every reviewer rates every image; a call is right with probability ``p_correct``.

    ``p_correct`` is a number or a function of (reviewer index, image index, FST group).
    Images alternate real / synthetic and cycle through the FST groups; realism is drawn
    uniformly from ``realism_range[source]`` (1–7 by default).
    """
    rng = np.random.default_rng(seed)
    realism_range = realism_range or {"real": (1, 7), "synthetic": (1, 7)}
    chance = p_correct if callable(p_correct) else (lambda reviewer, image, fst: p_correct)
    rows = []
    for image in range(n_images):
        source = ("real", "synthetic")[image % 2]
        fst = FST_GROUPS[(image // 2) % 3]
        for reviewer in range(n_reviewers):
            right = rng.random() < chance(reviewer, image, fst)
            low, high = realism_range[source]
            rows.append({
                "reviewer": f"reviewer-{reviewer}",
                "image": f"image-{image:03d}",
                "source": source,
                "call": source if right else ("real" if source == "synthetic" else "synthetic"),
                "realism": int(rng.integers(low, high + 1)),
                "abcd_asymmetry": rng.choice(ANSWERS),
                "abcd_border": rng.choice(ANSWERS, p=[0.7, 0.2, 0.1] if source == "real" else [0.3, 0.6, 0.1]),
                "abcd_colour": rng.choice(ANSWERS),
                "abcd_diameter": rng.choice(ANSWERS),
                "seconds": float(rng.gamma(4, 3)),
                "fst_group": fst,
                "diagnosis": ("melanoma", "nevus")[(image // 6) % 2],
                "session": "ignored extra column",
            })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- Wilson


@pytest.mark.parametrize("successes,n,confidence", [(0, 1, 0.95), (0, 10, 0.95), (3, 10, 0.95), (10, 10, 0.95),
                                                    (57, 120, 0.95), (1, 400, 0.90), (99, 100, 0.99)])
def test_wilson_interval_matches_statsmodels(successes, n, confidence):
    expected = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    assert review_stats.wilson_interval(successes, n, confidence) == pytest.approx(expected, abs=1e-12)


def test_wilson_interval_is_nan_without_data_and_refuses_impossible_counts():
    assert all(np.isnan(review_stats.wilson_interval(0, 0)))
    with pytest.raises(ValueError):
        review_stats.wilson_interval(5, 3)
    with pytest.raises(ValueError):
        review_stats.wilson_interval(1, 3, confidence=1.0)


# --------------------------------------------------------------------------- detection


def test_detection_matches_hand_counts_wilson_and_binomtest():
    ratings = simulated_ratings(p_correct=0.7, seed=1)
    synthetic, called_synthetic = ratings["source"] == "synthetic", ratings["call"] == "synthetic"
    tp, fn = int((synthetic & called_synthetic).sum()), int((synthetic & ~called_synthetic).sum())
    fp, tn = int((~synthetic & called_synthetic).sum()), int((~synthetic & ~called_synthetic).sum())
    detection = review_stats.detection_stats(ratings, n_boot=N_BOOT)

    assert detection["counts"] == {"tp": tp, "fn": fn, "fp": fp, "tn": tn}
    for name, successes, n in [("accuracy", tp + tn, len(ratings)), ("sensitivity", tp, tp + fn),
                               ("specificity", tn, tn + fp), ("synthetic_judged_real", fn, tp + fn)]:
        share = detection[name]
        assert share["estimate"] == pytest.approx(successes / n)
        low, high = proportion_confint(successes, n, method="wilson")
        assert (share["ci_low"], share["ci_high"]) == pytest.approx((low, high))
    assert detection["binomial_test"]["p_value"] == pytest.approx(scipy_stats.binomtest(tp + tn, len(ratings)).pvalue)
    judged_real = detection["synthetic_judged_real"]
    assert judged_real["target"] == 0.60
    assert judged_real["p_value_above_target"] == pytest.approx(
        scipy_stats.binomtest(fn, tp + fn, 0.60, alternative="greater").pvalue
    )
    assert judged_real["above_target"] is bool(fn / (tp + fn) > 0.60)


@pytest.mark.parametrize("correct,n", [(50, 100), (58, 100), (150, 300), (171, 300), (9, 20), (0, 5)])
def test_tost_equals_two_one_sided_binomial_tests(correct, n):
    result = review_stats.tost_equivalence(correct, n, margin=0.10, alpha=0.05)
    p_lower = scipy_stats.binomtest(correct, n, 0.40, alternative="greater").pvalue
    p_upper = scipy_stats.binomtest(correct, n, 0.60, alternative="less").pvalue
    assert result["p_lower"] == pytest.approx(p_lower)
    assert result["p_upper"] == pytest.approx(p_upper)
    assert result["equivalent"] is bool(max(p_lower, p_upper) < 0.05)


@pytest.mark.parametrize("n,margin,alpha", [(10, 0.10, 0.05), (57, 0.10, 0.05), (120, 0.15, 0.05), (227, 0.10, 0.05),
                                            (90, 0.20, 0.025)])
def test_tost_power_equals_enumeration_of_rejecting_counts(n, margin, alpha):
    """Power = P(count whose two one-sided binomtests both reject), summed over every count."""
    rejecting = [
        k for k in range(n + 1)
        if max(scipy_stats.binomtest(k, n, 0.5 - margin, alternative="greater").pvalue,
               scipy_stats.binomtest(k, n, 0.5 + margin, alternative="less").pvalue) < alpha
    ]
    expected = scipy_stats.binom.pmf(rejecting, n, 0.5).sum() if rejecting else 0.0
    assert review_stats.tost_power(n, margin=margin, alpha=alpha) == pytest.approx(expected, abs=1e-12)


def test_ratings_needed_is_where_power_stays_above_80_percent():
    needed = review_stats.tost_ratings_needed(margin=0.10, alpha=0.05)
    assert 200 < needed < 260  # the normal approximation gives 214
    assert review_stats.tost_power(needed - 1) < 0.80
    assert all(review_stats.tost_power(n) >= 0.80 for n in range(needed, needed + 300, 7))


def test_small_study_is_told_it_cannot_claim_indistinguishable():
    result = review_stats.tost_equivalence(20, 40)
    assert result["power"] < 0.80 and result["equivalent"] is False
    assert "Too small" in result["note"] and str(result["ratings_needed"]) in result["note"]
    assert review_stats.tost_equivalence(500, 1000)["note"] is None


def test_perfect_detector_scores_one():
    ratings = simulated_ratings(p_correct=1.0, realism_range={"real": (6, 7), "synthetic": (1, 2)})
    detection = review_stats.detection_stats(ratings, n_boot=N_BOOT)
    for name in ("accuracy", "sensitivity", "specificity"):
        assert detection[name]["estimate"] == 1.0
    assert detection["synthetic_judged_real"]["estimate"] == 0.0
    assert detection["binomial_test"]["p_value"] < 1e-50
    assert detection["equivalence"]["equivalent"] is False
    realism = review_stats.realism_stats(ratings, n_boot=N_BOOT)
    assert realism["auc"]["estimate"] == 1.0
    assert realism["mann_whitney"]["p_value"] < 1e-50


def test_coin_flipper_is_at_chance_and_not_significant():
    ratings = simulated_ratings(p_correct=0.5, n_images=100, seed=3)
    detection = review_stats.detection_stats(ratings, n_boot=N_BOOT)
    accuracy = detection["accuracy"]
    assert 0.45 < accuracy["estimate"] < 0.55
    assert accuracy["ci_low"] < 0.5 < accuracy["ci_high"]
    assert detection["binomial_test"]["p_value"] > 0.05
    clustered = detection["cluster_bootstrap"]["accuracy"]
    assert clustered["ci_low"] < 0.5 < clustered["ci_high"]
    # 600 independent guesses: enough power to show accuracy within 0.5 ± 0.1.
    assert detection["equivalence"]["equivalent"] is True
    assert detection["cluster_bootstrap"]["equivalence"]["equivalent"] is True
    auc = review_stats.realism_stats(ratings, n_boot=N_BOOT)["auc"]
    assert 0.4 < auc["estimate"] < 0.6 and auc["ci_low"] < 0.5 < auc["ci_high"]


def test_groups_pick_out_where_reviewers_do_well():
    def chance(reviewer, image, fst):
        return 0.95 if fst == "V-VI" or reviewer == 0 else 0.5

    report = review_stats.study_report(simulated_ratings(p_correct=chance, n_images=90, seed=4), n_boot=N_BOOT)
    by_fst = {group["group"]: group["detection"]["accuracy"] for group in report["by_fst_group"]}
    assert list(by_fst) == list(FST_GROUPS)
    assert by_fst["V-VI"]["ci_low"] > 0.8
    for group in ("I-II", "III-IV"):
        assert by_fst[group]["estimate"] < 0.7 and by_fst[group]["ci_low"] < by_fst["V-VI"]["ci_low"]
    by_reviewer = {group["group"]: group["detection"]["accuracy"] for group in report["by_reviewer"]}
    best = max(by_reviewer, key=lambda name: by_reviewer[name]["estimate"])
    assert best == "reviewer-0" and by_reviewer[best]["ci_low"] > 0.8
    assert {group["group"] for group in report["by_diagnosis"]} == {"melanoma", "nevus"}


def test_reviewer_groups_are_reported_alone_by_skin_type_and_by_diagnosis_only_where_reviewers_have_groups():
    """Dermatologists (reviewers 0-2) tell dark-skin (V-VI) synthetic images apart, residents guess: per group and type."""
    def chance(reviewer, image, fst):
        return 0.95 if reviewer < 3 and fst == "V-VI" else 0.5

    ratings = simulated_ratings(p_correct=chance, n_images=90, seed=5)
    assert not any(key.startswith("by_reviewer_group") for key in review_stats.study_report(ratings, n_boot=N_BOOT))
    ratings["fst"] = ratings["fst_group"].map({"I-II": "II", "III-IV": "IV", "V-VI": "VI"})
    ratings["reviewer_group"] = ["dermatologist" if int(r[-1]) < 3 else "resident" for r in ratings["reviewer"]]
    ratings.loc[ratings["reviewer"] == "reviewer-5", "reviewer_group"] = ""  # enrolled without a group
    report = review_stats.study_report(ratings, n_boot=N_BOOT)
    groups = {group["group"]: group for group in report["by_reviewer_group"]}
    assert list(groups) == ["dermatologist", "no group", "resident"] and groups["no group"]["n_ratings"] == 90
    by_type = {group["group"]: group["detection"]["accuracy"] for group in report["by_reviewer_group_fst"]}
    assert by_type["dermatologist · VI"]["ci_low"] > 0.8 and by_type["resident · VI"]["estimate"] < 0.7
    assert by_type["dermatologist · VI"]["n"] == 3 * 30 and by_type["dermatologist · II"]["ci_low"] < 0.8
    assert {group["group"] for group in report["by_reviewer_group_diagnosis"]} >= {"dermatologist · melanoma", "resident · nevus"}
    rows = study_summary(report)
    assert {"reviewer_group", "reviewer_group_fst", "reviewer_group_diagnosis"} <= set(rows["group_kind"])


def test_cluster_bootstrap_widens_only_when_ratings_of_an_image_agree():
    # Each image either fools everyone or no one: the ratings of one image are one piece of evidence.
    def image_difficulty(reviewer, image, fst):
        return 0.95 if (image // 2) % 2 else 0.05

    clustered = review_stats.detection_stats(simulated_ratings(p_correct=image_difficulty, seed=5), n_boot=N_BOOT)
    independent = review_stats.detection_stats(simulated_ratings(p_correct=0.5, seed=5), n_boot=N_BOOT)
    assert clustered["cluster_bootstrap"]["design_effect"] > 3
    assert 0.7 < independent["cluster_bootstrap"]["design_effect"] < 1.4
    wilson, bootstrap = clustered["accuracy"], clustered["cluster_bootstrap"]["accuracy"]
    assert bootstrap["ci_high"] - bootstrap["ci_low"] > 1.5 * (wilson["ci_high"] - wilson["ci_low"])
    # Resampling reviewers as well is the conservative, wider interval.
    both = independent["cluster_bootstrap"]["accuracy_reviewers_random"]
    images_only = independent["cluster_bootstrap"]["accuracy"]
    assert both["ci_high"] - both["ci_low"] >= images_only["ci_high"] - images_only["ci_low"]


def test_image_bootstrap_agrees_with_a_direct_resampling_of_images():
    """Draw whole images with replacement and recompute: the same intervals up to Monte Carlo error."""
    def image_difficulty(reviewer, image, fst):
        return (0.2, 0.5, 0.9)[image % 3]

    ratings = simulated_ratings(p_correct=image_difficulty, realism_range={"real": (3, 7), "synthetic": (1, 5)}, seed=19)
    per_image = ratings.assign(correct=ratings["call"] == ratings["source"], is_real=ratings["source"] == "real")
    per_image = per_image.groupby("image")[["correct", "realism", "is_real"]].agg(["sum", "size"])
    correct, realism = per_image[("correct", "sum")].to_numpy(), per_image[("realism", "sum")].to_numpy()
    n, is_real = per_image[("correct", "size")].to_numpy(), per_image[("is_real", "sum")].to_numpy() > 0
    rng = np.random.default_rng(123)
    accuracy, mean_real = [], []
    for _ in range(4000):
        drawn = rng.integers(0, len(n), len(n))
        accuracy.append(correct[drawn].sum() / n[drawn].sum())
        drawn_real = drawn[is_real[drawn]]
        mean_real.append(realism[drawn_real].sum() / n[drawn_real].sum())
    ours = review_stats.detection_stats(ratings, n_boot=4000)["cluster_bootstrap"]["accuracy"]
    assert (ours["ci_low"], ours["ci_high"]) == pytest.approx(tuple(np.quantile(accuracy, [0.025, 0.975])), abs=0.015)
    ours = review_stats.realism_stats(ratings, n_boot=4000)["arms"]["real"]["mean"]
    assert (ours["ci_low"], ours["ci_high"]) == pytest.approx(tuple(np.quantile(mean_real, [0.025, 0.975])), abs=0.05)


def test_bootstrap_intervals_hold_the_estimate_and_repeat_with_the_seed():
    ratings = simulated_ratings(p_correct=0.65, realism_range={"real": (3, 7), "synthetic": (2, 6)}, seed=6)
    first = review_stats.detection_stats(ratings, n_boot=N_BOOT, seed=11)
    again = review_stats.detection_stats(ratings, n_boot=N_BOOT, seed=11)
    other = review_stats.detection_stats(ratings, n_boot=N_BOOT, seed=12)
    assert first == again
    assert first["cluster_bootstrap"]["accuracy"] != other["cluster_bootstrap"]["accuracy"]
    realism = review_stats.realism_stats(ratings, n_boot=N_BOOT, seed=11)
    assert realism == review_stats.realism_stats(ratings, n_boot=N_BOOT, seed=11)
    intervals = [first["cluster_bootstrap"][name] for name in ("accuracy", "sensitivity", "specificity",
                                                               "synthetic_judged_real", "accuracy_reviewers_random")]
    intervals += [realism["arms"][arm][statistic] for arm in ("real", "synthetic") for statistic in ("mean", "median")]
    intervals.append(realism["auc"])
    for interval in intervals:
        assert interval["ci_low"] <= interval["estimate"] <= interval["ci_high"]


# --------------------------------------------------------------------------- realism


def test_realism_matches_pandas_scipy_and_sklearn():
    ratings = simulated_ratings(realism_range={"real": (2, 7), "synthetic": (1, 6)}, seed=7)
    realism = review_stats.realism_stats(ratings, n_boot=N_BOOT)
    real = ratings.loc[ratings["source"] == "real", "realism"]
    synthetic = ratings.loc[ratings["source"] == "synthetic", "realism"]
    for arm, scores in (("real", real), ("synthetic", synthetic)):
        assert realism["arms"][arm]["mean"]["estimate"] == pytest.approx(scores.mean())
        assert realism["arms"][arm]["median"]["estimate"] == scores.median()
        assert realism["arms"][arm]["counts"] == {str(level): int((scores == level).sum()) for level in range(1, 8)}
    mann_whitney = scipy_stats.mannwhitneyu(real, synthetic, alternative="two-sided")
    assert realism["mann_whitney"]["u_real"] == mann_whitney.statistic
    assert realism["mann_whitney"]["p_value"] == pytest.approx(mann_whitney.pvalue)
    auc = realism["auc"]["estimate"]
    assert auc == pytest.approx(mann_whitney.statistic / (len(real) * len(synthetic)))
    assert auc == pytest.approx(roc_auc_score(ratings["source"] == "real", ratings["realism"]))
    # Synthetic positive, scored by low realism: the same curve and area.
    assert auc == pytest.approx(roc_auc_score(ratings["source"] == "synthetic", -ratings["realism"]))
    roc = realism["roc"]
    fpr, tpr = [point["fpr"] for point in roc], [point["tpr"] for point in roc]
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    assert np.trapezoid(tpr, fpr) == pytest.approx(auc)


def test_median_of_even_counts_is_the_mean_of_the_middle_two():
    ratings = simulated_ratings(n_reviewers=1, n_images=4).assign(realism=[2, 1, 4, 1])
    arms = review_stats.realism_stats(ratings, n_boot=50)["arms"]
    assert arms["real"]["median"]["estimate"] == 3.0  # real images scored 2 and 4
    assert arms["synthetic"]["median"]["estimate"] == 1.0


# --------------------------------------------------------------------------- agreement

# The worked example of the Wikipedia article "Fleiss' kappa": 10 subjects, 14 raters, 5 categories, κ = 0.210.
FLEISS_WORKED_EXAMPLE = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers,
# 12 units, missing values; published α_ordinal = 0.815 (α_nominal 0.743).
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
    [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan],
])


def counts_per_unit(reliability: np.ndarray, values) -> np.ndarray:
    """Units × values counts from an observers × units matrix (NaN = missing)."""
    return np.stack([(reliability == value).sum(axis=0) for value in values], axis=1)


def test_fleiss_kappa_reproduces_the_published_worked_example():
    assert round(review_stats.fleiss_kappa(FLEISS_WORKED_EXAMPLE), 3) == 0.210


def test_fleiss_kappa_matches_statsmodels_on_complete_data():
    rng = np.random.default_rng(8)
    for categories in (2, 3, 5):
        shares = rng.dirichlet(np.ones(categories), size=40)  # items that lean to one category
        table = np.array([rng.multinomial(7, share) for share in shares])
        assert review_stats.fleiss_kappa(table) == pytest.approx(statsmodels_fleiss_kappa(table, method="fleiss"))


def test_fleiss_kappa_with_unequal_raters_is_fleiss_cuzick():
    rng = np.random.default_rng(9)
    raters = rng.integers(2, 8, size=50)
    synthetic_calls = rng.binomial(raters, rng.beta(1, 1, size=50))
    # Fleiss & Cuzick (1979): κ = 1 − Σ n_i p_i q_i / (N (n̄ − 1) p̄ q̄).
    p_i = synthetic_calls / raters
    p_bar = synthetic_calls.sum() / raters.sum()
    expected = 1 - (raters * p_i * (1 - p_i)).sum() / (len(raters) * (raters.mean() - 1) * p_bar * (1 - p_bar))
    table = np.column_stack([raters - synthetic_calls, synthetic_calls])
    assert review_stats.fleiss_kappa(table) == pytest.approx(expected)


def test_call_agreement_from_ratings_matches_statsmodels():
    def chance(reviewer, image, fst):
        return 0.9 if image % 3 else 0.2  # images differ, so reviewers agree beyond chance

    ratings = simulated_ratings(p_correct=chance, seed=10)
    table = pd.crosstab(ratings["image"], ratings["call"]).to_numpy()
    agreement = review_stats.call_agreement(ratings, n_boot=N_BOOT)
    assert agreement["estimate"] == pytest.approx(statsmodels_fleiss_kappa(table, method="fleiss"))
    assert agreement["estimate"] > 0.2 and agreement["ci_low"] <= agreement["estimate"] <= agreement["ci_high"]
    assert agreement["n_images"] == 60


def test_krippendorff_alpha_reproduces_the_published_example():
    assert round(review_stats.krippendorff_alpha_ordinal(counts_per_unit(KRIPPENDORFF_2011, range(1, 6))), 3) == 0.815


def test_krippendorff_alpha_matches_the_krippendorff_package_with_missing_values():
    rng = np.random.default_rng(11)
    truth = rng.integers(1, 8, size=40)
    reliability = np.clip(truth + rng.integers(-2, 3, size=(5, 40)), 1, 7).astype(float)
    reliability[rng.random(reliability.shape) < 0.25] = np.nan
    expected = krippendorff.alpha(reliability, level_of_measurement="ordinal", value_domain=list(range(1, 8)))
    ours = review_stats.krippendorff_alpha_ordinal(counts_per_unit(reliability, range(1, 8)))
    assert ours == pytest.approx(expected)


def test_realism_agreement_from_ratings_matches_the_krippendorff_package():
    ratings = simulated_ratings(realism_range={"real": (5, 7), "synthetic": (1, 3)}, seed=12)
    ratings = ratings.drop(index=ratings.index[::7])  # some reviewers skip some images
    reliability = ratings.pivot(index="reviewer", columns="image", values="realism").to_numpy(float)
    expected = krippendorff.alpha(reliability, level_of_measurement="ordinal", value_domain=list(range(1, 8)))
    agreement = review_stats.realism_agreement(ratings, n_boot=N_BOOT)
    assert agreement["estimate"] == pytest.approx(expected)
    assert agreement["estimate"] > 0.5


def test_agreement_is_undefined_with_a_reason_when_nothing_varies_or_nothing_is_shared():
    same_calls = simulated_ratings(p_correct=1.0).assign(call=lambda t: t["source"], realism=4)
    same_calls = same_calls[same_calls["source"] == "real"]
    for agreement in (review_stats.call_agreement(same_calls, n_boot=20),
                      review_stats.realism_agreement(same_calls, n_boot=20)):
        assert agreement["estimate"] is None and "same" in agreement["note"]
    one_reviewer = simulated_ratings(n_reviewers=1)
    assert "two or more reviewers" in review_stats.call_agreement(one_reviewer, n_boot=20)["note"]
    assert np.isnan(review_stats.fleiss_kappa(np.zeros((0, 2))))
    assert np.isnan(review_stats.krippendorff_alpha_ordinal(np.zeros((0, 7))))


def shared_by_two(n_shared: int) -> pd.DataFrame:
    """Two reviewers of 20 images who both rate only the first ``n_shared``, disagreeing on each (call and realism)."""
    ratings = simulated_ratings(n_reviewers=2, n_images=20, seed=21)
    first, second = (ratings[ratings["reviewer"] == name].set_index("image") for name in ("reviewer-0", "reviewer-1"))
    second = second.assign(call=np.where(first["call"] == "real", "synthetic", "real"), realism=first["realism"] % 7 + 1)
    return pd.concat([first, second.iloc[:n_shared]]).reset_index()


def test_agreement_is_not_estimable_from_too_few_images_rated_by_two_reviewers():
    one_shared = review_stats.study_report(shared_by_two(1), n_boot=50)["agreement"]
    for agreement in one_shared.values():
        assert agreement["n_images"] == 1
        assert agreement["estimate"] is None and agreement["ci_low"] is None and agreement["ci_high"] is None
        assert "not estimable: 1 image rated by two or more reviewers" in agreement["note"]
    minimum = review_stats.MIN_AGREEMENT_IMAGES
    assert 1 < minimum <= 20
    for agreement in review_stats.study_report(shared_by_two(minimum - 1), n_boot=50)["agreement"].values():
        assert agreement["estimate"] is None and f"{minimum - 1} images" in agreement["note"] and str(minimum) in agreement["note"]
    for agreement in review_stats.study_report(shared_by_two(minimum), n_boot=50)["agreement"].values():
        assert agreement["n_images"] == minimum and agreement["ci_low"] <= agreement["estimate"] <= agreement["ci_high"]


def test_dashboard_and_export_say_agreement_is_not_estimable_with_the_count():
    report = review_stats.study_report(shared_by_two(1), n_boot=50)
    text = headline(report)
    assert "- Fleiss' κ on the calls: not estimable: 1 image rated by ≥ 2 reviewers" in text
    assert "- Krippendorff's α (ordinal) on realism: not estimable: 1 image rated by ≥ 2 reviewers" in text
    assert "0.00 (95% CI 0.00–0.00)" not in text
    rows = study_summary(report).query("group_kind == 'agreement'")
    assert list(rows["group"]) == ["calls", "realism"]
    assert rows["estimate"].isna().all() and rows["ci_low"].isna().all() and rows["ci_high"].isna().all()
    assert all("not estimable: 1 image rated by two or more reviewers" in note for note in rows["note"])

    estimable = review_stats.study_report(simulated_ratings(p_correct=0.6, seed=22), n_boot=50)
    kappa = estimable["agreement"]["calls"]
    assert (f"- Fleiss' κ on the calls: {kappa['estimate']:.2f} (95% CI {kappa['ci_low']:.2f}–{kappa['ci_high']:.2f}; "
            "60 images rated by ≥ 2 reviewers)") in headline(estimable)
    same_calls = simulated_ratings(p_correct=1.0).query("source == 'real'")
    assert ("- Fleiss' κ on the calls: not estimable: 30 images rated by ≥ 2 reviewers; every rating of the shared images is the same"
            in headline(review_stats.study_report(same_calls, n_boot=50)))


def test_dashboard_and_export_show_the_mrmc_auc_with_its_interval():
    report = review_stats.study_report(simulated_ratings(p_correct=0.6, seed=22), n_boot=50)
    mrmc = report["mrmc_auc"]
    assert mrmc["n_readers"] >= 2 and mrmc["ci_low"] < mrmc["estimate"] < mrmc["ci_high"]
    assert (f"(MRMC): {mrmc['estimate']:.2f} (95% CI {mrmc['ci_low']:.2f}–{mrmc['ci_high']:.2f}, df {mrmc['df']:.1f}; "
            f"{mrmc['n_readers']} reviewers × {mrmc['n_cases']} images; Obuchowski–Rockette with Hillis df") in headline(report)
    row = study_summary(report).query("metric == 'realism_auc_mrmc'").iloc[0]
    assert (row["estimate"], row["ci_low"], row["ci_high"], row["p_value"]) == (mrmc["estimate"], mrmc["ci_low"], mrmc["ci_high"],
                                                                                 mrmc["p_value"])
    one_reader = review_stats.study_report(shared_by_two(1), n_boot=50)
    assert one_reader["mrmc_auc"]["estimate"] is None
    assert f"(MRMC): {one_reader['mrmc_auc']['note']}" in headline(one_reader) and "not estimable" in one_reader["mrmc_auc"]["note"]


# --------------------------------------------------------------------------- ABCD


def test_abcd_counts_shares_and_test_match_crosstab_and_scipy():
    ratings = simulated_ratings(seed=13)
    answers = {item["item"]: item for item in review_stats.abcd_answers(ratings)}
    for column, item in review_stats.ABCD_ITEMS.items():
        table = pd.crosstab(ratings["source"], ratings[column]).reindex(columns=list(ANSWERS), fill_value=0)
        for arm in ("real", "synthetic"):
            assert answers[item]["arms"][arm]["counts"] == table.loc[arm].to_dict()
            share_yes = table.loc[arm, "yes"] / table.loc[arm].sum()
            assert answers[item]["arms"][arm]["shares"]["yes"] == pytest.approx(share_yes)
        expected = scipy_stats.chi2_contingency(table.to_numpy(), correction=False).pvalue
        assert answers[item]["test"]["p_value"] == pytest.approx(expected)
    assert answers["border"]["test"]["p_value"] < 1e-6  # simulated: synthetic borders judged unrealistic


def test_abcd_small_tables_use_fisher_and_blanks_are_unanswered():
    ratings = simulated_ratings(n_reviewers=1, n_images=8, seed=14)
    ratings["abcd_asymmetry"] = ["yes", "no"] * 4  # real always yes, synthetic always no
    ratings.loc[0, "abcd_colour"] = ""
    answers = {item["item"]: item for item in review_stats.abcd_answers(ratings)}
    assert answers["asymmetry"]["test"]["method"] == "Fisher's exact test"
    assert answers["asymmetry"]["test"]["p_value"] == pytest.approx(scipy_stats.fisher_exact([[4, 0], [0, 4]]).pvalue)
    assert answers["colour"]["n_unanswered"] == 1
    assert sum(arm["n"] for arm in answers["colour"]["arms"].values()) == 7


# --------------------------------------------------------------------------- per image, per reviewer


def test_image_and_reviewer_summaries_match_hand_computation():
    ratings = simulated_ratings(n_reviewers=3, n_images=10, p_correct=0.6, seed=15)
    ratings.loc[ratings.index[:4], "seconds"] = np.nan
    images = review_stats.image_summary(ratings).set_index("image")
    first = ratings[ratings["image"] == "image-001"]
    assert images.loc["image-001", "n_ratings"] == 3
    assert images.loc["image-001", "share_judged_real"] == pytest.approx((first["call"] == "real").mean())
    assert images.loc["image-001", "mean_realism"] == pytest.approx(first["realism"].mean())

    reviewers = review_stats.reviewer_summary(ratings).set_index("reviewer")
    own = ratings[ratings["reviewer"] == "reviewer-0"]
    row = reviewers.loc["reviewer-0"]
    assert row["n_ratings"] == 10 and row["n_timed"] == own["seconds"].notna().sum()
    assert row["seconds_median"] == pytest.approx(own["seconds"].median())
    assert row["seconds_mean"] == pytest.approx(own["seconds"].mean())
    assert row["accuracy"] == pytest.approx((own["call"] == own["source"]).mean())
    synthetic = own[own["source"] == "synthetic"]
    assert row["sensitivity"] == pytest.approx((synthetic["call"] == "synthetic").mean())


# --------------------------------------------------------------------------- the report and its exports


def test_study_report_is_json_and_flattens_to_csv(tmp_path):
    ratings = simulated_ratings(p_correct=0.6, seed=16)
    report = review_stats.study_report(ratings, n_boot=N_BOOT)
    json.dumps(report, allow_nan=False)
    assert report["positive_class"] == "synthetic"
    assert report["n_ratings"] == len(ratings) and report["n_images_by_source"] == {"real": 30, "synthetic": 30}
    assert report["overall"]["detection"] == review_stats.detection_stats(ratings, n_boot=N_BOOT)

    summary = study_summary(report)
    summary.to_csv(tmp_path / "study_summary.csv", index=False)
    back = pd.read_csv(tmp_path / "study_summary.csv")
    assert list(back.columns) == list(SUMMARY_COLUMNS)
    assert not back.duplicated(["group_kind", "group", "metric"]).any()
    accuracy = back.query("group_kind == 'all' and metric == 'accuracy'").iloc[0]
    assert accuracy["estimate"] == pytest.approx(report["overall"]["detection"]["accuracy"]["estimate"])
    assert set(back["group_kind"]) == {"all", "reviewer", "fst", "fst_group", "diagnosis", "agreement", "abcd"}
    review_stats.reviewer_summary(ratings).to_csv(tmp_path / "reviewer_summary.csv", index=False)
    assert len(pd.read_csv(tmp_path / "reviewer_summary.csv")) == 6


def degenerate_tables() -> dict[str, pd.DataFrame]:
    full = simulated_ratings(n_reviewers=2, n_images=6, seed=17)
    return {
        "empty, no columns": pd.DataFrame(),
        "empty, with columns": full.iloc[:0],
        "one rating": full.iloc[:1],
        "only real images": full[full["source"] == "real"],
        "only synthetic images": full[full["source"] == "synthetic"],
        "one reviewer": full[full["reviewer"] == "reviewer-0"],
        "identical answers": full.assign(call="real", realism=4, abcd_asymmetry="yes", abcd_border="yes",
                                         abcd_colour="yes", abcd_diameter="yes"),
        "nothing optional filled in": full.assign(realism=np.nan, seconds=np.nan, fst_group="", diagnosis="",
                                                  abcd_asymmetry="", abcd_border=None),
    }


@pytest.mark.parametrize("name", list(degenerate_tables()))
def test_degenerate_inputs_give_none_with_reasons_not_crashes(name):
    ratings = degenerate_tables()[name]
    report = review_stats.study_report(ratings, n_boot=50)
    json.dumps(report, allow_nan=False)
    study_summary(report)
    review_stats.reviewer_summary(ratings)
    for figure in figures.dashboard_figures(report).values():
        figure.to_json()
    detection = report["overall"]["detection"]
    if detection["n_ratings"] == 0:
        assert detection["accuracy"]["estimate"] is None and detection["accuracy"]["note"]
        assert [group["group"] for group in report["by_fst_group"]] == list(FST_GROUPS)
    if detection["counts"]["tp"] + detection["counts"]["fn"] == 0:
        assert detection["sensitivity"]["estimate"] is None and "synthetic" in detection["sensitivity"]["note"]
        assert report["overall"]["realism"]["auc"]["estimate"] is None
        assert report["overall"]["realism"]["mann_whitney"]["note"]


def test_one_arm_and_one_answer_are_called_out():
    tables = degenerate_tables()
    only_real = review_stats.detection_stats(tables["only real images"], n_boot=50)
    assert any("no ratings of synthetic images" in note for note in only_real["notes"])
    identical = review_stats.study_report(tables["identical answers"], n_boot=50)
    assert any("every call was 'real'" in note for note in identical["overall"]["detection"]["notes"])
    assert identical["agreement"]["calls"]["estimate"] is None
    assert all(item["test"]["p_value"] is None for item in identical["abcd"])
    blank = review_stats.study_report(tables["nothing optional filled in"], n_boot=50)
    assert blank["overall"]["realism"]["arms"]["real"]["mean"]["estimate"] is None
    assert [group["group"] for group in blank["by_fst_group"]] == [*FST_GROUPS, "unknown"]
    assert [group["group"] for group in blank["by_diagnosis"]] == ["unknown"]


@pytest.mark.parametrize("change,message", [
    (lambda t: t.assign(call="maybe"), "call must be one of"),
    (lambda t: t.drop(columns="realism"), "lacks column"),
    (lambda t: t.assign(realism=9), "realism must be"),
    (lambda t: t.assign(realism="very"), "not numbers"),
    (lambda t: t.assign(fst_group="I–II"), "fst_group must be one of"),
    (lambda t: t.assign(source=["synthetic", *t["source"].iloc[1:]]), "both real and synthetic"),
])
def test_malformed_ratings_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        review_stats.checked_ratings(change(simulated_ratings(n_reviewers=2, n_images=4)))


# --------------------------------------------------------------------------- figures and layering


def test_per_skin_type_detection_and_realism_say_whether_dark_synthetic_images_convince_and_how_types_are_known():
    """Synthetic images of types V-VI are spotted (called synthetic) and scored unrealistic; I-IV fool the readers. The
    real images' types are annotated or estimated, the synthetic ones' requested: each group says which, with counts."""
    table = simulated_ratings(n_images=120, seed=9)
    table["fst"] = [(int(image[-3:]) // 2) % 6 + 1 for image in table["image"]]  # every type, both arms
    dark = table["fst"] >= 5
    synthetic = table["source"] == "synthetic"
    table.loc[synthetic & dark, "call"] = "synthetic"
    table.loc[synthetic & ~dark, "call"] = "real"
    table.loc[synthetic & dark, "realism"] = 2
    table.loc[synthetic & ~dark, "realism"] = 6
    table["fst_source"] = np.where(synthetic, "requested", np.where(table["fst"] == 1, "learned", "annotated"))
    table["fst"] = table["fst"].astype(str).where(table["fst"] != 3, "")  # type III of no image known: "unknown"
    report = review_stats.study_report(table, n_boot=N_BOOT)
    by_type = {group["group"]: group for group in report["by_fst"]}
    assert list(by_type) == ["I", "II", "III", "IV", "V", "VI", "unknown"] and by_type["III"]["n_ratings"] == 0
    for dark_type in ("V", "VI"):
        assert by_type[dark_type]["detection"]["sensitivity"]["estimate"] == 1.0  # every dark synthetic image spotted
        assert by_type[dark_type]["realism"]["arms"]["synthetic"]["mean"]["ci_high"] == 2.0
    for light_type in ("I", "II", "IV"):
        assert by_type[light_type]["detection"]["sensitivity"]["estimate"] == 0.0
        assert by_type[light_type]["realism"]["arms"]["synthetic"]["mean"]["estimate"] == 6.0
    assert by_type["I"]["type_sources"] == {"real": {"learned": 10}, "synthetic": {"requested": 10}}
    assert by_type["V"]["type_sources"] == {"real": {"annotated": 10}, "synthetic": {"requested": 10}}
    summary = study_summary(report)
    said = summary[(summary["group_kind"] == "fst") & (summary["metric"] == "type_sources")].set_index("group")["note"]
    assert said["I"] == "real: 10 learned; synthetic: 10 requested"
    drawn = figures.dashboard_figures(report)
    realism = drawn["realism_by_fst"]
    assert [bar.name for bar in realism.data] == ["real", "synthetic"] and list(realism.data[1].y[4:6]) == [2.0, 2.0]
    title = realism.layout.title.text.replace("<br>", " ")
    assert "types: real annotated / learned, synthetic requested" in title
    assert "types: real annotated / learned" in drawn["detection_by_fst"].layout.title.text.replace("<br>", " ")
    assert (review_stats.checked_ratings(simulated_ratings(n_images=4))["fst"] == "").all()  # optional: blank where absent


def test_dashboard_figures_draw_the_report():
    report = review_stats.study_report(simulated_ratings(p_correct=0.6, seed=18), n_boot=N_BOOT)
    drawn = figures.dashboard_figures(report)
    assert "synthetic = positive" in drawn["detection_by_reviewer"].layout.title.text
    assert "synthetic = positive" in drawn["realism_roc"].layout.title.text
    bars = drawn["detection_by_fst_group"].data
    assert [bar.name.split()[0] for bar in bars] == ["accuracy", "sensitivity", "specificity"]
    assert list(bars[0].x) == list(FST_GROUPS)
    roc = drawn["realism_roc"].data
    assert list(roc[0].x) == [0, 1] and len(roc[1].x) == 8  # the diagonal, then thresholds 0..7
    assert len(drawn["abcd_answers"].data) == 4 * 3
    assert len(drawn["fooling_rate"].data[0].x) == 30
    empty = figures.dashboard_figures(review_stats.study_report(pd.DataFrame(), n_boot=20))
    assert all(figure.layout.annotations[-1].text == "no ratings yet" for figure in empty.values())


def test_every_figure_is_readable_with_colour_blindness_and_its_title_fits():
    """Colours of one figure stay apart (CAM02-UCS ΔE ≥ 20) under simulated colour-vision deficiencies; titles wrap."""
    cvd = pytest.importorskip("colorspacious")
    report = review_stats.study_report(simulated_ratings(p_correct=0.6, seed=18), n_boot=N_BOOT)
    checked = 0
    for name, figure in figures.dashboard_figures(report).items():
        colours = sorted({trace.marker.color for trace in figure.data if isinstance(trace.marker.color, str)})
        assert all(len(line) <= TITLE_WIDTH for line in figure.layout.title.text.split("<br>")), name
        assert figure.layout.margin.t >= 30 + 22 * len(figure.layout.title.text.split("<br>")), name
        assert figure.layout.legend.orientation == "h" and figure.layout.legend.y < 0, name  # under the plot, never over it
        if len(colours) < 2:
            continue
        rgb = np.array([[int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)] for c in colours])
        for kind in ("deuteranomaly", "protanomaly", "tritanomaly", None):
            seen = rgb if kind is None else np.clip(
                cvd.cspace_convert(rgb, {"name": "sRGB1+CVD", "cvd_type": kind, "severity": 100}, "sRGB1"), 0, 1)
            for a, b in itertools.combinations(range(len(colours)), 2):
                assert cvd.deltaE(seen[a], seen[b], input_space="sRGB1") >= 20, (name, kind, colours[a], colours[b])
        checked += 1
    assert checked >= 3  # detection (three rates), realism and ABCD (two arms, three answers)
    old_yes_no = np.array([[0x54, 0xA2, 0x4B], [0xE4, 0x57, 0x56]]) / 255  # the green / red the dashboard used to draw
    seen = cvd.cspace_convert(old_yes_no, {"name": "sRGB1+CVD", "cvd_type": "deuteranomaly", "severity": 100}, "sRGB1")
    assert cvd.deltaE(np.clip(seen[0], 0, 1), np.clip(seen[1], 0, 1), input_space="sRGB1") < 5  # the check can fail


def fooled_exactly(ratings: pd.DataFrame) -> pd.DataFrame:
    """Synthetic image j judged real by exactly j mod (reviewers + 1) reviewers: every share from 0 to 1, edges included."""
    reviewer = ratings["reviewer"].str.removeprefix("reviewer-").astype(int)
    image = ratings["image"].str.removeprefix("image-").astype(int)
    judged_real = reviewer < (image // 2) % (ratings["reviewer"].nunique() + 1)
    synthetic = ratings["source"] == "synthetic"
    return ratings.assign(call=ratings["call"].where(~synthetic, np.where(judged_real, "real", "synthetic")))


def test_every_figure_draws_the_numbers_of_its_ratings():
    ratings = fooled_exactly(simulated_ratings(n_reviewers=10, n_images=44, p_correct=0.6, seed=20))
    ratings.loc[ratings.index[::9], "seconds"] = np.nan
    drawn = figures.dashboard_figures(review_stats.study_report(ratings, n_boot=50))
    right = ratings["call"] == ratings["source"]
    synthetic = ratings["source"] == "synthetic"

    every = pd.Series(True, index=ratings.index)
    rates = {"accuracy": (right, every), "sensitivity": (right & synthetic, synthetic), "specificity": (right & ~synthetic, ~synthetic)}
    for by in ("reviewer", "fst_group", "diagnosis"):
        bars = drawn[f"detection_by_{by}"].data
        for bar, (hits, within) in zip(bars, rates.values(), strict=True):
            successes = hits.groupby(ratings[by]).sum()
            n = within.groupby(ratings[by]).sum()
            assert [tuple(pair) for pair in bar.customdata] == [(successes[group], n[group]) for group in bar.x]
            assert list(bar.y) == pytest.approx([successes[group] / n[group] for group in bar.x])
        assert sum(pair[1] for pair in bars[0].customdata) == len(ratings)

    for box, arm in zip(drawn["realism_by_arm"].data, ("real", "synthetic"), strict=True):
        scores = ratings.loc[ratings["source"] == arm, "realism"]
        assert sorted(box.y) == sorted(scores) and box.name == f"{arm} (n={len(scores)})"

    roc = drawn["realism_roc"].data[1]
    real_scores, synthetic_scores = ratings.loc[~synthetic, "realism"], ratings.loc[synthetic, "realism"]
    assert list(roc.x) == pytest.approx([(real_scores <= t).mean() for t in range(8)])
    assert list(roc.y) == pytest.approx([(synthetic_scores <= t).mean() for t in range(8)])

    abcd = iter(drawn["abcd_answers"].data)
    for column in review_stats.ABCD_ITEMS:
        answered = ratings[ratings[column] != ""]
        counts = pd.crosstab(answered["source"], answered[column])
        for answer in ANSWERS:
            bar = next(abcd)
            assert bar.name == answer
            assert list(bar.x) == [f"{arm} (n={counts.loc[arm].sum()})" for arm in ("real", "synthetic")]
            assert list(bar.y) == pytest.approx([counts.loc[arm, answer] / counts.loc[arm].sum() for arm in ("real", "synthetic")])

    (box,) = drawn["time_per_image"].data
    seconds = ratings.dropna(subset="seconds").groupby("reviewer")["seconds"]
    assert list(box.x) == sorted(ratings["reviewer"].unique())
    for drawn_values, expected in ((box.q1, seconds.quantile(0.25)), (box.median, seconds.median()), (box.q3, seconds.quantile(0.75)),
                                   (box.lowerfence, seconds.min()), (box.upperfence, seconds.max()), (box.mean, seconds.mean())):
        assert list(drawn_values) == pytest.approx(list(expected[list(box.x)]))

    (histogram,) = drawn["fooling_rate"].data
    shares = [Fraction(int(judged), int(n)) for judged, n in
              ratings[synthetic].assign(real=lambda t: t["call"] == "real").groupby("image")["real"].agg(["sum", "size"]).to_numpy()]
    assert min(shares) == 0 and max(shares) == 1
    expected = [sum(1 for share in shares if min(int(share * 10), 9) == k) for k in range(10)]  # [k/10, (k+1)/10), 1 in the last
    bins = histogram.xbins
    edges = bins.start + bins.size * np.arange(round((bins.end - bins.start) / bins.size) + 1)
    assert tuple(drawn["fooling_rate"].layout.xaxis.range) == (edges[0], pytest.approx(edges[-1])) == (0, pytest.approx(1))
    counted = [sum(1 for x in histogram.x if low <= x < high) for low, high in itertools.pairwise(edges)]  # plotly's bins
    assert counted == expected and sum(counted) == len(histogram.x) == len(shares) == 22
    assert "22 images" in drawn["fooling_rate"].layout.title.text


def test_review_data_does_not_import_the_app_or_gradio():
    code = (
        "import sys, review_data.stats, review_data.figures; "
        "bad = [m for m in sys.modules if m == 'gradio' or m == 'app' or m.startswith(('gradio.', 'app.'))]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
