"""review_data.stats.mrmc against the published analyses of the Van Dyke et al. (1993) data, and on studies made here.

The published figures (tests/fixtures/vandyke/README.md gives the sources) are the only numbers
written into these tests; each is compared at the digits it was published with. Everything else is
checked against an independent computation (scikit-learn's AUC, a brute-force jackknife,
statsmodels' repeated-measures ANOVA) or a property the method must have.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from sklearn.metrics import roc_auc_score
from statsmodels.stats.anova import AnovaRM

from review_data import stats as review_stats
from review_data.stats.mrmc import (
    MRMC_METHOD,
    NotFullyCrossedError,
    empirical_auc,
    or_analysis,
    read_lrc,
)
from review_data.stats.reader_study import study_mrmc_auc

VAN_DYKE = Path(__file__).parent / "fixtures" / "vandyke" / "VanDyke.lrc"
VAN_DYKE_SHA256 = "5fdc42f4ca1ac9362db370c2a054a7aca36580bae48a404766ffd97007498621"


def assert_published(actual, published: str) -> None:
    """``actual`` rounds to ``published`` at the digits it was published with (half a unit in its last place)."""
    decimals = len(published.partition(".")[2])
    assert actual is not None and abs(actual - float(published)) <= 0.5 * 10**-decimals + 1e-12, (actual, published)


@pytest.fixture(scope="module")
def van_dyke() -> pd.DataFrame:
    return read_lrc(VAN_DYKE)


@pytest.fixture(scope="module")
def jackknife(van_dyke) -> dict:
    return or_analysis(van_dyke)


@pytest.fixture(scope="module")
def delong(van_dyke) -> dict:
    return or_analysis(van_dyke, covariance="delong")


# --------------------------------------------------------------------------- the .lrc file


def test_read_lrc_gives_the_van_dyke_design(van_dyke):
    assert hashlib.sha256(VAN_DYKE.read_bytes()).hexdigest() == VAN_DYKE_SHA256
    assert list(van_dyke.columns) == ["treatment", "reader", "case", "truth", "score"]
    assert len(van_dyke) == 2 * 5 * 114
    assert sorted(van_dyke["treatment"].unique()) == ["0", "1"]
    assert sorted(van_dyke["reader"].unique()) == ["0", "1", "2", "3", "4"]
    assert van_dyke.groupby("truth")["case"].nunique().to_dict() == {0: 69, 1: 45}
    assert set(van_dyke["score"]) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert not van_dyke.duplicated(["treatment", "reader", "case"]).any()


def test_read_lrc_negates_small_means_positive_and_refuses_a_broken_file(tmp_path, van_dyke):
    text = VAN_DYKE.read_text().splitlines(keepends=True)
    flipped = tmp_path / "flipped.lrc"
    flipped.write_text("".join([*text[:3], "   S   L\n", *text[4:]]))
    table = read_lrc(flipped)
    first = table["treatment"] == "0"
    assert table.loc[first, "score"].tolist() == (-van_dyke.loc[first, "score"]).tolist()
    assert table.loc[~first, "score"].tolist() == van_dyke.loc[~first, "score"].tolist()

    truncated = tmp_path / "truncated.lrc"
    truncated.write_text("".join(text[:-1]))
    with pytest.raises(ValueError, match="no '#'"):
        read_lrc(truncated)
    short_line = tmp_path / "short.lrc"
    short_line.write_text("".join([*text[:4], "   1.000000\n", *text[5:]]))
    with pytest.raises(ValueError, match="line 5: expected 2 score"):
        read_lrc(short_line)


# --------------------------------------------------------------------------- Van Dyke: OR-DBM MRMC 2.5, jackknife

# OR-DBM MRMC 2.5 reader AUCs (readers 1-5 are "0"-"4" here, treatments 1-2 are "0"-"1").
OR_DBM_READER_AUCS = {
    "0": ["0.91964573", "0.85877617", "0.90386473", "0.97310789", "0.82979066"],
    "1": ["0.94782609", "0.90531401", "0.92173913", "0.99935588", "0.92995169"],
}


def test_van_dyke_aucs_and_anova_match_or_dbm_mrmc(jackknife):
    for row in jackknife["reader_aucs"]:
        assert_published(row["auc"], OR_DBM_READER_AUCS[row["treatment"]][int(row["reader"])])
    means = {row["treatment"]: row["auc"] for row in jackknife["treatment_aucs"]}
    assert_published(means["0"], "0.89703704")
    assert_published(means["1"], "0.94083736")
    anova = jackknife["anova"]
    assert (anova["df_t"], anova["df_r"], anova["df_tr"]) == (1, 4, 4)
    assert_published(anova["ms_t"], "0.00479617")
    assert_published(anova["ms_r"], "0.00383620")
    assert_published(anova["ms_tr"], "0.00055103")
    assert_published(anova["ms_r_each_treatment"][0]["ms_r"], "0.00308263")
    assert_published(anova["ms_r_each_treatment"][1]["ms_r"], "0.00130460")


def test_van_dyke_variance_components_match_or_dbm_mrmc_and_mrmcaov(jackknife):
    components = jackknife["variance_components"]
    for name, or_dbm, mrmcaov in [
        ("var_r", "0.00153500", "0.0015349993"),
        ("var_tr", "0.00020040", "0.0002004025"),
        ("cov1", "0.00034661", "0.0003466137"),
        ("cov2", "0.00034407", "0.0003440748"),
        ("cov3", "0.00023903", "0.0002390284"),
        ("var_error", "0.00080229", "0.0008022883"),
    ]:
        assert_published(components[name], or_dbm)
        assert_published(components[name], mrmcaov)
    assert_published(components["rho1"], "0.43203138")
    assert_published(components["rho2"], "0.42886683")
    assert_published(components["rho3"], "0.29793328")


def test_van_dyke_random_readers_random_cases_matches_or_dbm_mrmc(jackknife):
    rrrc = jackknife["rrrc"]
    test = rrrc["test"]
    assert test["df1"] == 1
    assert_published(test["value"], "4.46")
    assert_published(test["df2"], "15.26")
    assert_published(test["denominator"], "0.00107626")
    assert_published(test["p_value"], "0.0517")
    assert_published(test["p_value"], "0.051665686")  # RJafroc's St(dataset02, method = "OR"), inst/obumrm2/ObuRoc.R
    [difference] = rrrc["differences"]
    assert difference["treatments"] == ["0", "1"]
    for name, published in [("estimate", "-0.04380032"), ("std_err", "0.02075"), ("df", "15.26"), ("statistic", "-2.11"),
                            ("p_value", "0.0517"), ("ci_low", "-0.08796"), ("ci_high", "0.00036")]:
        assert_published(difference[name], published)
    for row, published in zip(rrrc["treatments"], [
        ("0.89703704", "0.03317360", "12.74", "0.82522360", "0.96885048", "0.00048396"),
        ("0.94083736", "0.02156637", "12.71", "0.89413783", "0.98753689", "0.00020419"),
    ], strict=True):
        for name, value in zip(("estimate", "std_err", "df", "ci_low", "ci_high", "cov2"), published, strict=True):
            assert_published(row[name], value)


def test_van_dyke_fixed_readers_random_cases_matches_or_dbm_mrmc_and_mrmcaov(jackknife):
    frrc = jackknife["frrc"]
    assert frrc["test"]["df"] == 1
    assert_published(frrc["test"]["value"], "5.47595")
    assert_published(frrc["test"]["value"], "5.475953")  # MRMCaov
    assert_published(frrc["test"]["p_value"], "0.01927984")  # MRMCaov; OR-DBM MRMC: 0.0193
    [difference] = frrc["differences"]
    for name, published in [("std_err", "0.01871748"), ("statistic", "-2.340075"),
                            ("ci_low", "-0.08048591"), ("ci_high", "-0.00711473")]:
        assert_published(difference[name], published)
    for row, published in zip(frrc["treatments"], [
        ("0.02428971", "0.84943008", "0.94464399", "0.00101410"),
        ("0.01677632", "0.90795637", "0.97371835", "0.00059047"),
    ], strict=True):
        for name, value in zip(("std_err", "ci_low", "ci_high", "var_error"), published, strict=True):
            assert_published(row[name], value)
    # MRMCaov's reader-specific differences (OR-DBM MRMC prints the same to 5 decimals).
    for row, published in zip(frrc["reader_differences"], [
        ("-0.02818035", "0.02551213", "-0.078183215", "0.021822507", "0.26933885"),
        ("-0.04653784", "0.02630183", "-0.098088476", "0.005012792", "0.07683102"),
        ("-0.01787440", "0.03120965", "-0.079044180", "0.043295388", "0.56683414"),
        ("-0.02624799", "0.01729129", "-0.060138290", "0.007642316", "0.12901715"),
        ("-0.10016103", "0.04405746", "-0.186512066", "-0.013809995", "0.02300099"),
    ], strict=True):
        for name, value in zip(("estimate", "std_err", "ci_low", "ci_high", "p_value"), published, strict=True):
            assert_published(row[name], value)


def test_van_dyke_random_readers_fixed_cases_matches_or_dbm_mrmc_and_mrmcaov(jackknife):
    rrfc = jackknife["rrfc"]
    assert (rrfc["test"]["df1"], rrfc["test"]["df2"]) == (1, 4)
    assert_published(rrfc["test"]["value"], "8.704")  # MRMCaov; OR-DBM MRMC: 8.70
    assert_published(rrfc["test"]["p_value"], "0.04195875")  # MRMCaov; OR-DBM MRMC: 0.0420
    [difference] = rrfc["differences"]
    assert difference["df"] == 4
    for name, published in [("std_err", "0.01484629"), ("statistic", "-2.950254"),
                            ("ci_low", "-0.08502022"), ("ci_high", "-0.00258042")]:
        assert_published(difference[name], published)
    for row, published in zip(rrfc["treatments"], [
        ("0.02482994", "0.82809808", "0.96597599"), ("0.01615303", "0.89598936", "0.98568536"),
    ], strict=True):
        assert row["df"] == 4
        for name, value in zip(("std_err", "ci_low", "ci_high"), published, strict=True):
            assert_published(row[name], value)


def test_van_dyke_delong_covariance_matches_mrmcaov(delong):
    assert delong["method"] == "Obuchowski–Rockette, Hillis df, DeLong covariance"
    components = delong["variance_components"]
    for name, published in [("var_r", "0.0015364254"), ("var_tr", "0.0002045840"), ("var_error", "0.0007921325"),
                            ("cov1", "0.0003420090"), ("cov2", "0.0003395265"), ("cov3", "0.0002358497"),
                            ("rho1", "0.4317573"), ("rho2", "0.4286234"), ("rho3", "0.2977402")]:
        assert_published(components[name], published)
    test = delong["rrrc"]["test"]
    for name, published in [("denominator", "0.001069415"), ("value", "4.484854"), ("df2", "15.06611"),
                            ("p_value", "0.05123303")]:
        assert_published(test[name], published)
    [difference] = delong["rrrc"]["differences"]
    for name, published in [("estimate", "-0.04380032"), ("std_err", "0.0206825"), ("df", "15.06611"),
                            ("ci_low", "-0.0878671960"), ("ci_high", "0.0002665519"), ("statistic", "-2.117747")]:
        assert_published(difference[name], published)
    for row, published in zip(delong["rrrc"]["treatments"], [
        ("0.8970370", "0.003082629", "0.0004775239", "0.03307642", "12.59597", "0.8253461", "0.9687280"),
        ("0.9408374", "0.001304602", "0.0002015292", "0.02150464", "12.56530", "0.8942155", "0.9874592"),
    ], strict=True):
        for name, value in zip(("estimate", "ms_r", "cov2", "std_err", "df", "ci_low", "ci_high"), published, strict=True):
            assert_published(row[name], value)


def test_one_treatment_matches_the_published_single_treatment_analysis(van_dyke, jackknife):
    """OR-DBM MRMC 2.51 on modality "0" alone (RJafroc inst/Iowa/VanDyke1T.txt)."""
    single = or_analysis(van_dyke[van_dyke["treatment"] == "0"].drop(columns="treatment"))
    assert single["n_treatments"] == 1 and single["treatments"] == ["all"]
    assert single["rrrc"]["test"] is None and single["rrrc"]["differences"] == []
    [rrrc] = single["rrrc"]["treatments"]
    for name, published in [("estimate", "0.89703704"), ("std_err", "0.03317360"), ("df", "12.74"),
                            ("ci_low", "0.82522360"), ("ci_high", "0.96885048"), ("cov2", "0.00048396"), ("ms_r", "0.00308263")]:
        assert_published(rrrc[name], published)
    components = single["variance_components"]
    assert_published(components["var_error"], "0.00101410")
    assert_published(components["cov2"], "0.00048396")
    assert_published(components["rho2"], "0.47723151")
    assert components["var_r"] is None and components["cov1"] is None and components["cov3"] is None
    [frrc] = single["frrc"]["treatments"]
    for name, published in [("std_err", "0.02428971"), ("ci_low", "0.84943008"), ("ci_high", "0.94464399")]:
        assert_published(frrc[name], published)
    # Each treatment's interval in the two-treatment analysis uses only that treatment's data.
    assert {**jackknife["rrrc"]["treatments"][0], "treatment": "all"} == rrrc


# --------------------------------------------------------------------------- against independent computations


def random_study(*, n_readers=4, n_positive=12, n_negative=15, n_treatments=1, seed=0, levels=None) -> pd.DataFrame:
    """A fully crossed study of normal scores (rounded to ``levels`` when given, to make ties)."""
    rng = np.random.default_rng(seed)
    truth = np.r_[np.ones(n_positive, int), np.zeros(n_negative, int)]
    case_effect = rng.normal(size=truth.size) + truth
    rows = []
    for treatment in range(n_treatments):
        for reader in range(n_readers):
            score = case_effect + rng.normal(0.3 * reader, 0.8, truth.size) * truth + rng.normal(0, 0.7, truth.size)
            if levels:
                score = np.digitize(score, np.linspace(-1, 2.5, levels - 1))
            rows += [{"treatment": f"T{treatment}", "reader": f"R{reader}", "case": f"c{k}", "truth": truth[k], "score": score[k]}
                     for k in range(truth.size)]
    return pd.DataFrame(rows)


def test_reader_aucs_match_scikit_learn(van_dyke, jackknife):
    for row in jackknife["reader_aucs"]:
        own = van_dyke[(van_dyke["treatment"] == row["treatment"]) & (van_dyke["reader"] == row["reader"])]
        assert row["auc"] == pytest.approx(roc_auc_score(own["truth"], own["score"]), abs=1e-12)
        assert empirical_auc(own["truth"], own["score"]) == pytest.approx(row["auc"], abs=1e-12)


def test_jackknife_covariances_match_leaving_each_case_out_by_hand():
    study = random_study(n_readers=3, n_treatments=2, levels=5, seed=1)
    result = or_analysis(study)
    cases = study["case"].unique()
    cells = [(t, r) for t in ("T0", "T1") for r in ("R0", "R1", "R2")]
    left_out = np.array([
        [roc_auc_score(kept["truth"], kept["score"]) for t, r in cells
         for kept in [study[(study["case"] != case) & (study["treatment"] == t) & (study["reader"] == r)]]]
        for case in cases
    ])
    deviations = left_out - left_out.mean(axis=0)
    cov = (len(cases) - 1) / len(cases) * deviations.T @ deviations
    same_t = np.array([[a[0] == b[0] for b in cells] for a in cells])
    same_r = np.array([[a[1] == b[1] for b in cells] for a in cells])
    components = result["variance_components"]
    assert components["var_error"] == pytest.approx(np.diag(cov).mean(), rel=1e-10)
    assert components["cov1"] == pytest.approx(cov[~same_t & same_r].mean(), rel=1e-10)
    assert components["cov2"] == pytest.approx(cov[same_t & ~same_r].mean(), rel=1e-10)
    assert components["cov3"] == pytest.approx(cov[~same_t & ~same_r].mean(), rel=1e-10)


def test_random_readers_fixed_cases_is_statsmodels_repeated_measures_anova():
    study = random_study(n_readers=5, n_treatments=3, seed=2)
    result = or_analysis(study)
    aucs = pd.DataFrame(result["reader_aucs"])
    anova = AnovaRM(aucs, depvar="auc", subject="reader", within=["treatment"]).fit().anova_table.iloc[0]
    test = result["rrfc"]["test"]
    assert (test["df1"], test["df2"]) == (anova["Num DF"], anova["Den DF"]) == (2, 8)
    assert test["value"] == pytest.approx(anova["F Value"], rel=1e-9)
    assert test["p_value"] == pytest.approx(anova["Pr > F"], rel=1e-9)
    # Three treatments: a global test on 2 df and the three pairwise differences.
    assert result["rrrc"]["test"]["df1"] == 2 and result["frrc"]["test"]["df"] == 2
    assert [d["treatments"] for d in result["rrrc"]["differences"]] == [["T0", "T1"], ["T0", "T2"], ["T1", "T2"]]
    means = {row["treatment"]: row["auc"] for row in result["treatment_aucs"]}
    for difference in result["rrrc"]["differences"]:
        first, second = difference["treatments"]
        assert difference["estimate"] == pytest.approx(means[first] - means[second])
        assert difference["ci_low"] < difference["estimate"] < difference["ci_high"]


def test_results_do_not_depend_on_the_scale_of_scores_or_the_order_of_rows():
    study = random_study(n_treatments=2, levels=6, seed=3)
    result = or_analysis(study)
    rescaled = study.assign(score=np.exp(study["score"]) * 10)  # any increasing transform keeps every AUC
    shuffled = rescaled.sample(frac=1, random_state=0)
    for other in (or_analysis(rescaled), or_analysis(shuffled)):
        assert json.dumps(other, sort_keys=True) == json.dumps(result, sort_keys=True)


def test_rrrc_interval_covers_the_population_auc_when_readers_and_cases_vary():
    """Readers differ (their AUCs spread) and cases differ: the RRRC interval keeps its coverage, the fixed-reader one does not."""
    rng = np.random.default_rng(7)
    mu, reader_sd, noise_sd, n_readers, n_per_class, runs = 1.0, 0.5, 0.7, 5, 30, 200
    # Reader j's AUC is Φ((μ + d_j) / s), s² = 2 (1 + noise²); averaged over d_j ~ N(0, reader_sd²):
    population_auc = scipy_stats.norm.cdf(mu / math.sqrt(2 * (1 + noise_sd**2) + reader_sd**2))
    truth = np.r_[np.ones(n_per_class, int), np.zeros(n_per_class, int)]
    covered = {"rrrc": 0, "frrc": 0}
    for _ in range(runs):
        case_effect = rng.normal(size=truth.size)
        shift = rng.normal(mu, reader_sd, n_readers)
        scores = case_effect + np.outer(shift, truth) + rng.normal(0, noise_sd, (n_readers, truth.size))
        study = pd.DataFrame({
            "reader": np.repeat(np.arange(n_readers), truth.size), "case": np.tile(np.arange(truth.size), n_readers),
            "truth": np.tile(truth, n_readers), "score": scores.ravel(),
        })
        result = or_analysis(study)
        for kind in covered:
            row = result[kind]["treatments"][0]
            covered[kind] += row["ci_low"] <= population_auc <= row["ci_high"]
    assert covered["rrrc"] / runs >= 0.88
    assert covered["frrc"] < covered["rrrc"]


# --------------------------------------------------------------------------- malformed designs


def test_a_reader_who_stopped_halfway_is_named_with_the_number_of_missing_cases(van_dyke):
    stopped = van_dyke[~((van_dyke["reader"] == "3") & (van_dyke["case"] > 100))]
    with pytest.raises(NotFullyCrossedError, match=r"reader '3' is missing 28 of the 228 readings \(114 cases × 2 treatments\)") as error:
        or_analysis(stopped)
    assert error.value.missing == {"3": 28}
    one = van_dyke[van_dyke["treatment"] == "0"].drop(columns="treatment")
    two_stopped = one[~((one["reader"] == "3") & (one["case"] > 100)) & ~((one["reader"] == "1") & (one["case"] == 7))]
    with pytest.raises(NotFullyCrossedError, match="reader '1' is missing 1 of the 114 cases; reader '3' is missing 14"):
        or_analysis(two_stopped)
    unscored = one.assign(score=one["score"].where(~((one["reader"] == "4") & (one["case"] <= 3))))
    with pytest.raises(NotFullyCrossedError, match="reader '4' is missing 3 of the 114 cases"):
        or_analysis(unscored)
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize("change,message", [
    (lambda t: t.drop(columns="truth"), "lacks column"),
    (lambda t: t.assign(truth=2), "truth must be 1"),
    (lambda t: t.assign(score="high"), "not numbers"),
    (lambda t: pd.concat([t, t.iloc[:1]]), "scored case 'c0' more than once"),
    (lambda t: t.assign(truth=np.where((t["reader"] == "R1") & (t["case"] == "c0"), 0, t["truth"])), "positive for some"),
    (lambda t: t[t["reader"] == "R0"], "at least 2 readers"),
    (lambda t: t[(t["truth"] == 0) | (t["case"] == "c0")], "at least 2 positive and 2 negative"),
])
def test_malformed_tables_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        or_analysis(change(random_study()))


def test_unknown_covariance_method_is_refused():
    with pytest.raises(ValueError, match="covariance must be one of"):
        or_analysis(random_study(), covariance="bootstrap")


# --------------------------------------------------------------------------- the review study


def review_ratings(*, n_reviewers=5, n_images=40, gap=1.5, seed=0) -> pd.DataFrame:
    """Every reviewer rates every image; synthetic images look ``gap`` realism points less real, reviewers differ in how much."""
    rng = np.random.default_rng(seed)
    sources = np.array(["real", "synthetic"])[np.arange(n_images) % 2]
    image_effect = rng.normal(0, 1, n_images)
    rows = []
    for reviewer in range(n_reviewers):
        sharpness = rng.uniform(0.5, 1.5)
        latent = 4.5 + image_effect - gap * sharpness * (sources == "synthetic") + rng.normal(0, 1, n_images)
        realism = np.clip(np.rint(latent), 1, 7).astype(int)
        rows += [{
            "reviewer": f"dr-{reviewer}", "image": f"img-{image:03d}", "source": sources[image],
            "call": "synthetic" if realism[image] <= 3 else "real", "realism": realism[image],
            "abcd_asymmetry": "yes", "abcd_border": "yes", "abcd_colour": "yes", "abcd_diameter": "yes",
            "seconds": 10.0, "fst_group": "I-II", "diagnosis": "nevus",
        } for image in range(n_images)]
    return pd.DataFrame(rows)


def test_study_auc_is_the_reader_averaged_auc_of_synthetic_against_8_minus_realism():
    ratings = review_ratings()
    result = study_mrmc_auc(ratings)
    json.dumps(result, allow_nan=False)
    assert result["method"] == MRMC_METHOD == "Obuchowski–Rockette, Hillis df, jackknife covariance"
    assert (result["n_readers"], result["n_cases"], result["n_synthetic"], result["n_real"]) == (5, 40, 20, 20)
    assert result["n_readers_left_out"] == 0 and result["note"] is None
    per_reviewer = {
        reviewer: roc_auc_score(own["source"] == "synthetic", 8 - own["realism"]) for reviewer, own in ratings.groupby("reviewer")
    }
    assert {row["reviewer"]: row["auc"] for row in result["reader_aucs"]} == pytest.approx(per_reviewer)
    assert result["estimate"] == pytest.approx(np.mean(list(per_reviewer.values())))
    assert 0.5 < result["ci_low"] < result["estimate"] < result["ci_high"] <= 1 and result["p_value"] < 0.05
    # The same as the general analysis of the tidy table (realism reversed is the same ordering as 8 - realism).
    tidy = ratings.rename(columns={"reviewer": "reader", "image": "case"}).assign(
        truth=(ratings["source"] == "synthetic").astype(int), score=-ratings["realism"])
    [single] = or_analysis(tidy)["rrrc"]["treatments"]
    assert (result["ci_low"], result["ci_high"], result["df"]) == pytest.approx((single["ci_low"], single["ci_high"], single["df"]))


def test_study_auc_is_near_one_half_when_synthetic_images_look_as_real():
    result = study_mrmc_auc(review_ratings(gap=0.0, n_reviewers=6, seed=5))
    assert abs(result["estimate"] - 0.5) < 3 * result["std_err"]
    assert result["ci_high"] - result["ci_low"] > 0


def test_reviewers_who_did_not_score_every_image_are_left_out_and_reported():
    ratings = review_ratings()
    stopped = ratings[~((ratings["reviewer"] == "dr-2") & (ratings["image"] >= "img-025"))]
    skipped = stopped.assign(realism=stopped["realism"].where(~((stopped["reviewer"] == "dr-4") & (stopped["image"] == "img-001"))))
    result = study_mrmc_auc(skipped)
    assert result["n_readers"] == 3 and result["n_readers_left_out"] == 2
    assert result["readers_left_out"] == [
        {"reviewer": "dr-2", "n_missing": 15, "n_images": 40}, {"reviewer": "dr-4", "n_missing": 1, "n_images": 40},
    ]
    assert "2 reviewer(s) left out" in result["note"] and "dr-2 (15 missing)" in result["note"]
    complete_only = study_mrmc_auc(ratings[~ratings["reviewer"].isin(["dr-2", "dr-4"])])
    assert (result["estimate"], result["ci_low"], result["ci_high"]) == (
        complete_only["estimate"], complete_only["ci_low"], complete_only["ci_high"])


@pytest.mark.parametrize("name,reason", [
    ("no ratings", "not estimable: no ratings"),
    ("no realism", "not estimable: no realism scores"),
    ("only real images", "not estimable: no synthetic images"),
    ("one synthetic image", "1 synthetic and 20 real image(s) scored; the jackknife needs at least 2"),
    ("one reviewer", "1 reviewer(s) scored the realism of every image; at least 2"),
    ("one complete reviewer", "1 reviewer(s) scored the realism of every image; at least 2"),
])
def test_study_auc_is_not_estimable_with_a_reason(name, reason):
    ratings = review_ratings()
    tables = {
        "no ratings": ratings.iloc[:0],
        "no realism": ratings.assign(realism=np.nan),
        "only real images": ratings[ratings["source"] == "real"],
        "one synthetic image": ratings[(ratings["source"] == "real") | (ratings["image"] == "img-001")],
        "one reviewer": ratings[ratings["reviewer"] == "dr-0"],
        "one complete reviewer": ratings[(ratings["reviewer"] == "dr-0") | (ratings["image"] < "img-030")],
    }
    result = study_mrmc_auc(tables[name])
    json.dumps(result, allow_nan=False)
    assert result["estimate"] is None and result["ci_low"] is None and result["ci_high"] is None
    assert result["note"].startswith("not estimable") and reason in result["note"]
    if name == "one complete reviewer":
        assert result["n_readers_left_out"] == 4 and "4 reviewer(s) left out" in result["note"]


def test_study_auc_without_variation_has_no_interval():
    ratings = review_ratings()
    perfect = ratings.assign(realism=np.where(ratings["source"] == "real", 6, 2))
    result = study_mrmc_auc(perfect)
    assert result["estimate"] == 1.0 and result["ci_low"] is None and "no interval" in result["note"]


def test_study_report_carries_the_mrmc_auc():
    ratings = review_ratings(seed=3)
    report = review_stats.study_report(ratings, n_boot=50)
    json.dumps(report, allow_nan=False)
    assert report["mrmc_auc"] == study_mrmc_auc(ratings)
    assert report["mrmc_auc"]["method"] == MRMC_METHOD
    assert review_stats.study_mrmc_auc is study_mrmc_auc
