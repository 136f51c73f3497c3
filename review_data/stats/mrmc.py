"""Multi-reader multi-case (MRMC) ROC analysis: a reader-averaged AUC whose interval allows for other readers and other cases.

Pooled ratings count every rating as independent, but the same readers score the same cases. Here each
reader's empirical (trapezoidal, Wilcoxon) AUC is computed from his or her scores of all cases, and the
Obuchowski–Rockette (1995) ANOVA of those treatment × reader AUCs, whose errors share the cases and so are
correlated (Var, Cov1 same reader, Cov2 same treatment, Cov3 neither), splits reader-to-reader from
case-to-case variation. Tests and intervals use Hillis' denominator degrees of freedom (Hillis 2007,
Hillis et al. 2008), as OR-DBM MRMC 2.5, RJafroc and MRMCaov do.

The error covariances are estimated by the jackknife over cases (leave one case out, for all readers and
treatments at once), the default of OR-DBM MRMC, RJafroc and MRMCaov; ``covariance="delong"`` uses
DeLong et al.'s (1988) structural components instead. Both reproduce the published analyses of the
Van Dyke et al. (1993) data (tests/test_mrmc.py).

Three inferences, as in OR-DBM MRMC: random readers and random cases (RRRC: other dermatologists, other
images), fixed readers and random cases (FRRC: these readers only) and random readers and fixed cases
(RRFC: these images only). Fully crossed designs only: every reader scores every case in every treatment.
`reader_study.study_mrmc_auc` applies the single-treatment RRRC analysis to the review study.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .jsonable import jsonable

MRMC_METHOD = "Obuchowski–Rockette, Hillis df, jackknife covariance"
COVARIANCES = {"jackknife": "jackknife", "delong": "DeLong"}
MRMC_COLUMNS = ("reader", "case", "truth", "score")  # and optionally "treatment"
FIGURE_OF_MERIT = "empirical (trapezoidal / Wilcoxon) AUC, ties counted half"
MIN_READERS = 2  # the reader ANOVA needs two readers
MIN_CASES_PER_CLASS = 2  # a case left out must leave a case of its class
SINGLE_TREATMENT = "all"  # treatment label of a table without a treatment column


class NotFullyCrossedError(ValueError):
    """Some reader did not score every case in every treatment; ``missing`` maps each such reader to how many readings it lacks."""

    def __init__(self, message: str, missing: dict):
        super().__init__(message)
        self.missing = missing


def read_lrc(path: str | Path) -> pd.DataFrame:
    """The ratings of a LABMRMC / OR-DBM MRMC ``.lrc`` file as a tidy table: treatment, reader, case, truth, score.

    The format: a description line; the first reader's name; the treatment names in double quotes;
    one L or S per treatment (large or small scores mean positive); then for each reader the negative
    cases' lines (one score per treatment; anything after them is a label), '*', the positive cases'
    lines, '*', and the next reader's name, or '#' after the last reader. Cases are numbered in file
    order, negatives first, the same for every reader. S scores are negated, so a higher score always
    means positive.
    """
    lines = [(number, line.strip()) for number, line in enumerate(Path(path).read_text().splitlines(), start=1)]
    lines = [(number, line) for number, line in lines if line]
    if len(lines) < 5:
        raise ValueError(f"{path}: too short for an .lrc file")
    treatments = re.findall(r'"([^"]*)"', lines[2][1])
    directions = [word.upper()[:1] for word in lines[3][1].split()]
    if not treatments or len(directions) != len(treatments) or set(directions) - {"L", "S"}:
        raise ValueError(f"{path}: lines 3-4 must name the treatments in quotes and give L or S for each")
    sign = np.where(np.array(directions) == "S", -1.0, 1.0)
    rows, position, reader, counts = [], 4, lines[1][1], None
    while True:
        block_counts = []
        for truth in (0, 1):
            block = []
            while True:
                if position >= len(lines):
                    raise ValueError(f"{path}: ends inside reader {reader!r}'s ratings (no '*' or '#')")
                number, line = lines[position]
                position += 1
                if line == "*":
                    break
                block.append(_lrc_scores(line, len(treatments), f"{path} line {number}"))
            block_counts.append(len(block))
            offset = 0 if truth == 0 else block_counts[0]  # positives are numbered after the negatives
            for case, scores in enumerate(block, start=offset + 1):
                rows += [(treatment, reader, case, truth, s) for treatment, s in zip(treatments, sign * scores, strict=True)]
        if counts is None:
            counts = block_counts
        elif block_counts != counts:
            raise ValueError(f"{path}: reader {reader!r} has {block_counts} negative / positive cases, the first reader {counts}")
        if position >= len(lines):
            raise ValueError(f"{path}: no '#' after the last reader")
        reader = lines[position][1]
        position += 1
        if reader == "#":
            break
    return pd.DataFrame(rows, columns=["treatment", "reader", "case", "truth", "score"])


def _lrc_scores(line: str, n_treatments: int, where: str) -> np.ndarray:
    """The first ``n_treatments`` numbers of a ratings line (a case label may follow them)."""
    words = line.split()
    try:
        if len(words) >= n_treatments:
            return np.array([float(word) for word in words[:n_treatments]])
    except ValueError:
        pass
    raise ValueError(f"{where}: expected {n_treatments} score(s), got {line!r}")


def empirical_auc(truth, score) -> float:
    """P(a positive case scores above a negative one) + ½ P(tie): the area under the empirical ROC curve."""
    truth, score = np.asarray(truth), np.asarray(score, dtype=float)
    if not (truth == 1).any() or not (truth == 0).any():
        raise ValueError("the AUC needs at least one positive and one negative case")
    return float(_placements(score[truth == 1], score[truth == 0]).mean())


def _placements(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """For each x, the share of y below it, ties counted half (DeLong's structural components)."""
    y = np.sort(y)
    return (np.searchsorted(y, x, "left") + np.searchsorted(y, x, "right")) / (2 * len(y))


def or_analysis(table: pd.DataFrame, *, covariance: str = "jackknife", confidence: float = 0.95) -> dict:
    """Obuchowski–Rockette analysis of the empirical AUC of a fully crossed MRMC study, as a JSON-ready dictionary.

    ``table``: one row per reading with columns reader, case, truth (1 positive, 0 negative), score
    (higher = more likely positive) and optionally treatment (one treatment when absent). Rows
    without a score count as not read; a reader who did not score every case in every treatment
    raises `NotFullyCrossedError` naming the reader and how many readings are missing.

    Returns each reader's AUC, the reader-averaged AUC of each treatment, the AUC ANOVA, the OR
    variance components and error covariances, and for RRRC, FRRC and RRFC: the test of equal AUCs
    (with two or more treatments), every pairwise difference with its interval, and each treatment's
    own interval (from that treatment's data only; with one treatment, the single-treatment analysis).
    Treatments and readers are listed in sorted order; differences are the first minus the second.
    """
    if covariance not in COVARIANCES:
        raise ValueError(f"covariance must be one of {tuple(COVARIANCES)}, got {covariance!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    checked = _checked_mrmc_table(table)
    treatments, readers = _labels(checked["treatment"]), _labels(checked["reader"])
    truth = checked.groupby("case", sort=False)["truth"].first().reindex(_labels(checked["case"]))
    t, r, c, n_positive = len(treatments), len(readers), len(truth), int(truth.sum())
    if r < MIN_READERS:
        raise ValueError(f"an MRMC analysis needs at least {MIN_READERS} readers, got {r}")
    if min(n_positive, c - n_positive) < MIN_CASES_PER_CLASS:
        raise ValueError(
            f"needs at least {MIN_CASES_PER_CLASS} positive and {MIN_CASES_PER_CLASS} negative cases, "
            f"got {n_positive} and {c - n_positive}"
        )
    scores = (
        checked.pivot(index="case", columns=["treatment", "reader"], values="score")
        .reindex(index=truth.index, columns=pd.MultiIndex.from_product([treatments, readers]))
        .to_numpy(float)
    )
    auc, cov = _auc_covariance(truth.to_numpy(int), scores, covariance)
    fit = _or_fit(auc.reshape(t, r), cov.reshape(t, r, t, r))
    return jsonable({
        "method": f"Obuchowski–Rockette, Hillis df, {COVARIANCES[covariance]} covariance",
        "figure_of_merit": FIGURE_OF_MERIT,
        "covariance": covariance,
        "confidence": confidence,
        "n_treatments": t, "n_readers": r, "n_cases": c, "n_positive": n_positive, "n_negative": c - n_positive,
        "treatments": treatments,
        "readers": readers,
        "reader_aucs": [
            {"treatment": treatments[i], "reader": readers[j], "auc": fit["auc"][i, j]} for i in range(t) for j in range(r)
        ],
        "treatment_aucs": [{"treatment": name, "auc": fit["auc"][i].mean()} for i, name in enumerate(treatments)],
        "anova": _anova_block(fit, treatments),
        "variance_components": _variance_components(fit),
        "rrrc": _rrrc(fit, treatments, confidence),
        "frrc": _frrc(fit, treatments, readers, confidence),
        "rrfc": _rrfc(fit, treatments, confidence),
    })


def _labels(values: pd.Series) -> list:
    """The distinct labels, sorted when they can be (so the order of the rows does not matter), else in order of appearance."""
    distinct = list(pd.unique(values))
    try:
        return sorted(distinct)
    except TypeError:
        return distinct


def _checked_mrmc_table(table: pd.DataFrame) -> pd.DataFrame:
    """The readings reduced to treatment, reader, case, truth, score; anything that is not a fully crossed design is refused."""
    missing = [column for column in MRMC_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f"the MRMC table lacks column(s) {missing}")
    checked = table.loc[:, list(MRMC_COLUMNS)].reset_index(drop=True)
    checked.insert(0, "treatment", table["treatment"].to_numpy() if "treatment" in table.columns else SINGLE_TREATMENT)
    for column in ("treatment", "reader", "case"):
        if checked[column].isna().any():
            raise ValueError(f"{column} is missing in {int(checked[column].isna().sum())} row(s)")
    numbers = pd.to_numeric(checked["score"], errors="coerce")
    if (numbers.isna() & checked["score"].notna()).any():
        raise ValueError("score holds values that are not numbers")
    checked = checked.assign(score=numbers.astype(float))[numbers.notna()]
    if not checked["truth"].isin([0, 1]).all():
        raise ValueError("truth must be 1 (positive) or 0 (negative)")
    checked = checked.assign(truth=checked["truth"].astype(int))
    if len(checked) == 0:
        raise ValueError("no scored readings")
    repeated = checked[checked.duplicated(["treatment", "reader", "case"], keep=False)]
    if len(repeated):
        first = repeated.iloc[0]
        raise ValueError(
            f"{len(repeated)} readings repeat a treatment-reader-case; e.g. reader {first['reader']!r} "
            f"scored case {first['case']!r} more than once"
        )
    mixed = checked.groupby("case")["truth"].nunique()
    if (mixed > 1).any():
        raise ValueError(f"case {mixed.index[mixed > 1][0]!r} is positive for some readings and negative for others")
    missing_readings = _missing_readings(checked)
    if missing_readings:
        raise NotFullyCrossedError(_not_crossed_message(checked, missing_readings), missing_readings)
    return checked


def _missing_readings(checked: pd.DataFrame) -> dict:
    """How many (treatment, case) readings each reader lacks, for the readers who lack any."""
    expected = checked["case"].nunique() * checked["treatment"].nunique()
    counts = checked.groupby("reader", sort=False).size()
    return {reader: int(expected - n) for reader, n in counts.items() if n < expected}


def _not_crossed_message(checked: pd.DataFrame, missing: dict) -> str:
    n_cases, n_treatments = checked["case"].nunique(), checked["treatment"].nunique()
    of = f"{n_cases * n_treatments} readings ({n_cases} cases × {n_treatments} treatments)" if n_treatments > 1 else f"{n_cases} cases"
    readers = "; ".join(f"reader {reader!r} is missing {n} of the {of}" for reader, n in missing.items())
    return f"not a fully crossed design (every reader must score every case in every treatment): {readers}"


def _auc_covariance(truth: np.ndarray, scores: np.ndarray, covariance: str) -> tuple[np.ndarray, np.ndarray]:
    """Each column's empirical AUC and the covariance matrix of the AUCs over cases (jackknife or DeLong)."""
    positive, negative = scores[truth == 1], scores[truth == 0]
    m, n = len(positive), len(negative)
    # v10[k, q]: share of negatives below positive case k for column q; v01[l, q]: share of positives above negative l.
    v10 = np.column_stack([_placements(positive[:, q], negative[:, q]) for q in range(scores.shape[1])])
    v01 = np.column_stack([1 - _placements(negative[:, q], positive[:, q]) for q in range(scores.shape[1])])
    auc = v10.mean(axis=0)
    if covariance == "delong":
        return auc, np.atleast_2d(np.cov(v10, rowvar=False)) / m + np.atleast_2d(np.cov(v01, rowvar=False)) / n
    # The AUC without case k, for every case at once (rows in case order).
    left_out = np.empty_like(scores)
    left_out[truth == 1] = (m * auc - v10) / (m - 1)
    left_out[truth == 0] = (n * auc - v01) / (n - 1)
    deviations = left_out - left_out.mean(axis=0)
    return auc, (len(scores) - 1) / len(scores) * deviations.T @ deviations


def _or_fit(auc: np.ndarray, cov: np.ndarray) -> dict:
    """Mean squares and averaged error covariances of the t × r AUCs, given their (t, r, t, r) covariance."""
    t, r = auc.shape
    same_treatment = np.broadcast_to(np.eye(t, dtype=bool)[:, None, :, None], cov.shape)
    same_reader = np.broadcast_to(np.eye(r, dtype=bool)[None, :, None, :], cov.shape)
    other_reader = ~np.eye(r, dtype=bool)
    interaction = auc - auc.mean(axis=1, keepdims=True) - auc.mean(axis=0) + auc.mean()
    return {
        "auc": auc, "cov": cov, "t": t, "r": r,
        "var": cov[same_treatment & same_reader].mean(),
        "cov1": cov[~same_treatment & same_reader].mean() if t > 1 else math.nan,
        "cov2": cov[same_treatment & ~same_reader].mean(),
        "cov3": cov[~same_treatment & ~same_reader].mean() if t > 1 else math.nan,
        "ms_t": r * ((auc.mean(axis=1) - auc.mean()) ** 2).sum() / (t - 1) if t > 1 else math.nan,
        "ms_r": t * ((auc.mean(axis=0) - auc.mean()) ** 2).sum() / (r - 1),
        "ms_tr": (interaction**2).sum() / ((t - 1) * (r - 1)) if t > 1 else math.nan,
        # Each treatment on its own: reader mean square, error variance and Cov2.
        "ms_r_each": ((auc - auc.mean(axis=1, keepdims=True)) ** 2).sum(axis=1) / (r - 1),
        "var_each": np.array([np.diag(cov[i, :, i, :]).mean() for i in range(t)]),
        "cov2_each": np.array([cov[i, :, i, :][other_reader].mean() for i in range(t)]),
    }


def _anova_block(fit: dict, treatments: list) -> dict:
    t, r = fit["t"], fit["r"]
    return {
        "ms_t": fit["ms_t"], "df_t": t - 1,
        "ms_r": fit["ms_r"], "df_r": r - 1,
        "ms_tr": fit["ms_tr"], "df_tr": (t - 1) * (r - 1),
        "ms_r_each_treatment": [{"treatment": name, "ms_r": fit["ms_r_each"][i]} for i, name in enumerate(treatments)],
    }


def _variance_components(fit: dict) -> dict:
    """OR estimates (ANOVA estimates, may be negative): reader and treatment × reader variance, error variance and covariances."""
    t, var, cov1, cov2, cov3 = fit["t"], fit["var"], fit["cov1"], fit["cov2"], fit["cov3"]
    components = {"var_r": None, "var_tr": None, "var_error": var, "cov1": cov1, "cov2": cov2, "cov3": cov3}
    if t > 1:  # with one treatment the reader and treatment × reader variances cannot be told apart
        var_tr = fit["ms_tr"] - var + cov1 + cov2 - cov3
        components.update(var_tr=var_tr, var_r=(fit["ms_r"] - var_tr - var - (t - 1) * cov1 + cov2 + (t - 1) * cov3) / t)
    components.update({f"rho{k}": components[f"cov{k}"] / var if var > 0 else None for k in (1, 2, 3)})
    return components


def _rrrc(fit: dict, treatments: list, confidence: float) -> dict:
    """Random readers and random cases: the error term MS(T×R) + r·max(Cov2 − Cov3, 0) on Hillis' ddf."""
    t, r = fit["t"], fit["r"]
    block = {"readers": "random", "cases": "random", "test": None, "differences": []}
    if t > 1:
        denominator = fit["ms_tr"] + r * max(fit["cov2"] - fit["cov3"], 0)
        ddf = _hillis_df(denominator, fit["ms_tr"], (t - 1) * (r - 1))
        block["test"] = _f_test(fit["ms_t"], denominator, t - 1, ddf)
        block["differences"] = _differences(fit, treatments, 2 * denominator / r, ddf, confidence)
    block["treatments"] = [
        {
            "treatment": name,
            **_estimate(fit["auc"][i].mean(), (ms_r + r * max(cov2, 0)) / r, _hillis_df(ms_r + r * max(cov2, 0), ms_r, r - 1), confidence),
            "ms_r": ms_r, "cov2": cov2,
        }
        for i, (name, ms_r, cov2) in enumerate(zip(treatments, fit["ms_r_each"], fit["cov2_each"], strict=True))
    ]
    return block


def _frrc(fit: dict, treatments: list, readers: list, confidence: float) -> dict:
    """Fixed readers and random cases: the error term Var − Cov1 + (r − 1)·max(Cov2 − Cov3, 0), chi-square and normal."""
    t, r, cov = fit["t"], fit["r"], fit["cov"]
    block = {"readers": "fixed", "cases": "random", "test": None, "differences": [], "reader_differences": []}
    if t > 1:
        denominator = fit["var"] - fit["cov1"] + (r - 1) * max(fit["cov2"] - fit["cov3"], 0)
        block["test"] = _chi2_test(fit["ms_t"], denominator, t - 1)
        block["differences"] = _differences(fit, treatments, 2 * denominator / r, math.inf, confidence)
        block["reader_differences"] = [
            {
                "reader": readers[j], "treatments": [treatments[a], treatments[b]],
                **_estimate(fit["auc"][a, j] - fit["auc"][b, j], cov[a, j, a, j] + cov[b, j, b, j] - 2 * cov[a, j, b, j],
                            math.inf, confidence, test=True),
            }
            for j in range(r) for a, b in itertools.combinations(range(t), 2)
        ]
    block["treatments"] = [
        {
            "treatment": name,
            **_estimate(fit["auc"][i].mean(), (var + (r - 1) * max(cov2, 0)) / r, math.inf, confidence),
            "var_error": var, "cov2": cov2,
        }
        for i, (name, var, cov2) in enumerate(zip(treatments, fit["var_each"], fit["cov2_each"], strict=True))
    ]
    return block


def _rrfc(fit: dict, treatments: list, confidence: float) -> dict:
    """Random readers and fixed cases: the conventional treatment × reader ANOVA of the AUCs (no case covariance)."""
    t, r = fit["t"], fit["r"]
    block = {"readers": "random", "cases": "fixed", "test": None, "differences": []}
    if t > 1:
        block["test"] = _f_test(fit["ms_t"], fit["ms_tr"], t - 1, (t - 1) * (r - 1))
        block["differences"] = _differences(fit, treatments, 2 * fit["ms_tr"] / r, (t - 1) * (r - 1), confidence)
    block["treatments"] = [
        {"treatment": name, **_estimate(fit["auc"][i].mean(), ms_r / r, r - 1, confidence), "ms_r": ms_r}
        for i, (name, ms_r) in enumerate(zip(treatments, fit["ms_r_each"], strict=True))
    ]
    return block


def _hillis_df(error_term: float, mean_square: float, df: int) -> float:
    """Satterthwaite-type df of an error term built on a mean square with ``df`` df: error_term² / (mean_square² / df)."""
    if mean_square > 0:
        return error_term**2 / (mean_square**2 / df)
    return math.inf if error_term > 0 else math.nan


def _differences(fit: dict, treatments: list, variance: float, df: float, confidence: float) -> list[dict]:
    """Every pairwise difference of reader-averaged AUCs, first − second, with one common variance and df."""
    means = fit["auc"].mean(axis=1)
    return [
        {"treatments": [treatments[a], treatments[b]], **_estimate(means[a] - means[b], variance, df, confidence, test=True)}
        for a, b in itertools.combinations(range(len(treatments)), 2)
    ]


def _estimate(estimate: float, variance: float, df: float, confidence: float, *, test: bool = False) -> dict:
    """estimate ± quantile · √variance on t(df), normal when df is infinite; with ``test`` the two-sided p-value of estimate = 0."""
    row = {"estimate": estimate, "std_err": None, "df": df, "ci_low": None, "ci_high": None}
    if test:
        row.update(statistic=None, p_value=None)
    if not (variance > 0 and df > 0):
        return {**row, "note": "no variation between readers or cases: the standard error is 0 and the interval undefined"}
    std_err = math.sqrt(variance)
    distribution = stats.norm if math.isinf(df) else stats.t(df)
    half = distribution.ppf((1 + confidence) / 2) * std_err
    row.update(std_err=std_err, ci_low=estimate - half, ci_high=estimate + half, note=None)
    if test:
        row.update(statistic=estimate / std_err, p_value=2 * distribution.sf(abs(estimate / std_err)))
    return row


def _f_test(ms_t: float, denominator: float, df1: int, df2: float) -> dict:
    test = {"statistic": "F", "value": None, "df1": df1, "df2": df2, "denominator": denominator, "p_value": None, "note": None}
    if not (denominator > 0 and df2 > 0):
        return {**test, "note": "no variation between readers or cases: the F statistic is undefined"}
    value = ms_t / denominator
    # An infinite df2 makes F·df1 chi-square on df1.
    p_value = stats.chi2.sf(value * df1, df1) if math.isinf(df2) else stats.f.sf(value, df1, df2)
    return {**test, "value": value, "p_value": p_value}


def _chi2_test(ms_t: float, denominator: float, df: int) -> dict:
    test = {"statistic": "chi2", "value": None, "df": df, "denominator": denominator, "p_value": None, "note": None}
    if not denominator > 0:
        return {**test, "note": "no variation between cases: the chi-square statistic is undefined"}
    value = df * ms_t / denominator
    return {**test, "value": value, "p_value": stats.chi2.sf(value, df)}
