"""The skin-tone make-up of a whole image set, and its agreement with annotated types.

For real dermoscopy, which rarely records a skin type, the distribution is the result: how ITA
and the estimated types spread over the set, with every image that could not be measured
counted by its reason (never dropped silently). Where types are annotated, the agreement
figures of `agreement` come with it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..fst import ROMAN
from .agreement import agreement_report, format_report
from .fst_mapping import FstMapping
from .ita import CHARDON_CATEGORIES
from .pipeline import with_mappings

ITA_BIN_WIDTH = 5.0


def tone_distribution(table: pd.DataFrame, estimate: str = "fst_estimate") -> dict:
    """ITA summary and histogram, Chardon categories and estimated types of an analysis table; statuses of all."""
    measured = table[table["status"] == "ok"]
    ita = measured["ita"].to_numpy(dtype=float)
    statuses = table["status"].value_counts()
    distribution = {
        "n_images": int(len(table)),
        "n_measured": int(len(measured)),
        "statuses": {status: int(statuses[status]) for status in ["ok", *sorted(set(statuses.index) - {"ok"})] if status in statuses},
        "ita": None,
        "ita_histogram": None,
        "chardon": {name: int((measured["chardon_category"] == name).sum()) for name, _ in CHARDON_CATEGORIES},
        "estimated_types": {ROMAN[t]: int((measured[estimate] == t).sum()) for t in ROMAN},
    }
    if len(ita):
        q05, q25, median, q75, q95 = np.percentile(ita, [5, 25, 50, 75, 95])
        distribution["ita"] = {"mean": float(ita.mean()), "sd": float(ita.std(ddof=1)) if len(ita) > 1 else None, "median": float(median),
                               "q05": float(q05), "q25": float(q25), "q75": float(q75), "q95": float(q95),
                               "min": float(ita.min()), "max": float(ita.max())}
        edges = np.arange(np.floor(ita.min() / ITA_BIN_WIDTH), np.ceil(ita.max() / ITA_BIN_WIDTH) + 1) * ITA_BIN_WIDTH
        counts, edges = np.histogram(ita, bins=edges if len(edges) > 1 else [edges[0], edges[0] + ITA_BIN_WIDTH])
        distribution["ita_histogram"] = {"edges": edges.tolist(), "counts": counts.tolist()}
    return distribution


def skin_tone_report(table: pd.DataFrame, mappings: list[FstMapping]) -> dict[str, dict]:
    """Per mapping: the distribution of the types it estimates, and agreement with annotated types where any."""
    reports = {}
    for mapping in mappings:
        estimated = with_mappings(table, [mapping])
        column = f"fst_{mapping.name}"
        reports[mapping.name] = {**agreement_report(estimated, estimate=column), "distribution": tone_distribution(estimated, column)}
    return reports


def format_distribution(distribution: dict) -> str:
    """The distribution as the text `fairskin ita --report` prints."""
    statuses = ", ".join(f"{status} {n}" for status, n in distribution["statuses"].items())
    lines = [f"images: {distribution['n_images']}; skin tone measured: {distribution['n_measured']} ({statuses})"]
    ita = distribution["ita"]
    if ita:
        lines.append(f"ITA: median {ita['median']:.1f}°, IQR {ita['q25']:.1f}–{ita['q75']:.1f}°, 5–95% {ita['q05']:.1f}–{ita['q95']:.1f}°")
        total = distribution["n_measured"]
        lines.append("estimated types: " + ", ".join(f"{t} {n} ({n / total:.0%})" for t, n in distribution["estimated_types"].items()))
        lines.append("Chardon categories: " + ", ".join(f"{c} {n}" for c, n in distribution["chardon"].items()))
    return "\n".join(lines)


def format_skin_tone_report(report: dict, mapping: str) -> str:
    """One mapping's report as text: the distribution, then agreement where types are annotated."""
    text = f"mapping: {mapping}\n" + format_distribution(report["distribution"])
    if report["n_annotated"]:
        text += "\n" + format_report(report, mapping).split("\n", 1)[1]
    else:
        text += "\nno image has an annotated skin type: agreement not computable"
    return text
