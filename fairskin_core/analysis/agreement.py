"""How well estimated skin types agree with annotated (or requested) ones.

Exact and within-one agreement, the confusion matrix, recall per type and Cohen's κ with
linear weights (disagreeing by two types costs twice as much as by one). Images whose estimate
is unknown are counted apart, never as agreements; images annotated only with a group (DDI's
I–II / III–IV / V–VI) are compared on groups.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..fst import FST_GROUPS, FST_TYPES, ROMAN, fst_group


def weighted_kappa(truth: np.ndarray, estimate: np.ndarray, categories: int = 6) -> float:
    """Cohen's κ with linear weights for ordinal categories 1..``categories``."""
    truth, estimate = np.asarray(truth, dtype=int) - 1, np.asarray(estimate, dtype=int) - 1
    if truth.size == 0:
        return float("nan")
    observed = np.zeros((categories, categories))
    np.add.at(observed, (truth, estimate), 1)
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    i, j = np.indices((categories, categories))
    weights = np.abs(i - j) / (categories - 1)
    disagreement_expected = (weights * expected).sum()
    if disagreement_expected == 0:
        return float("nan")
    return float(1 - (weights * observed).sum() / disagreement_expected)


def agreement_report(table: pd.DataFrame, truth: str = "fst", estimate: str = "fst_estimate") -> dict:
    """Agreement between ``truth`` and ``estimate`` columns of an analysis table (see pipeline)."""
    annotated = table[table[truth].notna()]
    known = annotated[annotated[estimate].notna()]
    true_fst = known[truth].astype(int).to_numpy()
    estimated = known[estimate].astype(int).to_numpy()
    confusion = pd.crosstab(
        pd.Categorical(known[truth].astype(int).map(ROMAN), categories=list(ROMAN.values())),
        pd.Categorical(known[estimate].astype(int).map(ROMAN), categories=list(ROMAN.values())),
        dropna=False,
    )
    confusion.index.name, confusion.columns.name = "annotated", "estimated"
    report = {
        "n_annotated": int(len(annotated)),
        "n_estimated": int(len(known)),
        "n_unknown": int(len(annotated) - len(known)),
        "exact": float(np.mean(true_fst == estimated)) if len(known) else None,
        "within_one": float(np.mean(np.abs(true_fst - estimated) <= 1)) if len(known) else None,
        "kappa_linear": weighted_kappa(true_fst, estimated) if len(known) else None,
        "recall": {
            ROMAN[fst]: float(np.mean(estimated[true_fst == fst] == fst)) if (true_fst == fst).any() else None for fst in FST_TYPES
        },
        "within_one_by_type": {
            ROMAN[fst]: float(np.mean(np.abs(estimated[true_fst == fst] - fst) <= 1)) if (true_fst == fst).any() else None
            for fst in FST_TYPES
        },
        "confusion": confusion.astype(int).to_dict(orient="index"),
    }
    grouped = table[table[truth].isna() & table["fst_group"].isin(FST_GROUPS) & table[estimate].notna()]
    if len(grouped):
        report["group_exact"] = float(np.mean(grouped[estimate].astype(int).map(fst_group) == grouped["fst_group"]))
        report["n_grouped"] = int(len(grouped))
    return report


def format_report(report: dict, mapping: str) -> str:
    """The report as the text `fairskin ita --report` prints."""

    def share(value):
        return "—" if value is None else f"{value:.1%}"

    kappa = "—" if report["kappa_linear"] is None else f"{report['kappa_linear']:.3f}"
    lines = [
        f"mapping: {mapping}",
        f"images with an annotated type: {report['n_annotated']}; estimated: {report['n_estimated']}; unknown: {report['n_unknown']}",
        f"exact agreement: {share(report['exact'])}; within one type: {share(report['within_one'])}; Cohen's kappa (linear): {kappa}",
        "per type (recall / within one): " + ", ".join(
            f"{t} {share(report['recall'][t])} / {share(report['within_one_by_type'][t])}" for t in ROMAN.values()
        ),
        "confusion (rows annotated, columns estimated):",
        "        " + " ".join(f"{t:>5}" for t in ROMAN.values()),
    ]
    for t, row in report["confusion"].items():
        lines.append(f"  {t:>5} " + " ".join(f"{row[c]:>5}" for c in ROMAN.values()))
    if "group_exact" in report:
        lines.append(f"grouped annotations (I-II / III-IV / V-VI): {report['n_grouped']} images, "
                     f"group agreement {share(report['group_exact'])}")
    return "\n".join(lines)
