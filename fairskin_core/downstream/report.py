"""The downstream report: every figure per model and skin-type group, the paired comparisons, the verdict.

``report.json`` holds the settings, the data's hashes and counts, every seed's run, every
number and the verdict; ``by_group.csv`` one row per model × group; ``predictions.csv`` every
test image's probability by every model and seed; ``report.html`` the tables and figures.
Where the test set's skin types were estimated from ITA, every table says so. The experiment
(torch) is imported by `downstream_report`, which runs it: the web app reads reports without it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import platform
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.io as pio

from ..atomic import atomic_dir, atomic_file
from ..fst import ESTIMATED_SOURCES, ROMAN
from ..spreadsheet_csv import write_report_csv
from .figures import report_figures
from .metrics import (
    GROUPS,
    MIN_PER_CLASS,
    auroc,
    fairness_gaps,
    group_masks,
    group_metrics,
    paired_difference_ci,
    paired_gap_closed_ci,
    seed_mean_with_ci,
    sensitivity_at_specificity,
)
from .settings import BASELINE, ORACLE, ExperimentSettings
from .verdict import verdict

if TYPE_CHECKING:
    from .data import ImageSet
    from .experiment import ExperimentResult

BY_GROUP_COLUMNS = ("model", "group", "n", "n_positive", "auroc", "auroc_low", "auroc_high", "auroc_sd", "sensitivity_at_specificity",
                    "tpr", "fpr", "ece", "skin_types", "not_computable")
CALIBRATION_BINS = 10
ORACLE_GAP_MEASURES = ("auroc", "sensitivity", "tpr")


def _mean(values: list) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _sd(values: list) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.std(kept, ddof=1)) if len(kept) > 1 else None


def skin_type_note(test: ImageSet) -> str:
    """How the test set's skin types are known: every table carries this."""
    estimated, known = np.isin(test.fst_source, ESTIMATED_SOURCES), int(np.isfinite(test.fst).sum())
    if known == 0:
        return "no test image has a skin type: per-type figures are not computable"
    if estimated.any():
        methods = ", ".join(f"{method} {int((test.fst_source == method).sum())}" for method in ESTIMATED_SOURCES
                            if (test.fst_source == method).any())
        return f"estimated from the image for {int(estimated.sum())} of {len(test)} test images (not annotated; by method: {methods})"
    return f"annotated for {known} of {len(test)} test images"


def _set_summary(images: ImageSet | None) -> dict | None:
    if images is None:
        return None
    types = {ROMAN[t]: int((images.fst == t).sum()) for t in ROMAN}
    return {"n": len(images), "n_malignant": int(images.malignant.sum()),
            "by_skin_type": {**types, "unknown": int(np.isnan(images.fst).sum())}, "manifest_sha256": images.manifest_sha256}


def _model_rows(result: ExperimentResult, strategy: str, note: str) -> list[dict]:
    """by_group rows of one model: per-seed metrics averaged, the AUROC's CI that of the seed mean."""
    s, test = result.settings, result.data.test
    y, scores, thresholds = test.malignant.astype(int), result.probabilities[strategy], result.thresholds[strategy]
    per_seed = [group_metrics(y, p, test.fst, threshold=t, specificity=s.specificity, n_boot=s.n_boot, seed=k)
                for k, (p, t) in enumerate(zip(scores, thresholds, strict=True))]
    masks = group_masks(test.fst)
    rows = []
    for g, group in enumerate(GROUPS):
        seeds = [metrics[g] for metrics in per_seed]
        first = seeds[0]
        row = {"model": strategy, "group": group, "n": first.n, "n_positive": first.n_positive, "skin_types": note,
               "not_computable": first.reason}
        if first.auroc is not None:
            row["auroc"], row["auroc_low"], row["auroc_high"] = seed_mean_with_ci(y[masks[group]], scores[:, masks[group]], auroc,
                                                                                  n_boot=s.n_boot, seed=g)
        row["auroc_sd"] = _sd([m.auroc for m in seeds])
        for name in ("sensitivity_at_specificity", "tpr", "fpr", "ece"):
            row[name] = _mean([getattr(m, name) for m in seeds])
        rows.append(row)
    return rows


def _fairness(result: ExperimentResult, strategy: str) -> dict:
    """Equal-opportunity and equalized-odds differences per seed, with their mean and spread."""
    test = result.data.test
    gaps = [fairness_gaps(test.malignant.astype(int), p, test.fst, threshold=t)
            for p, t in zip(result.probabilities[strategy], result.thresholds[strategy], strict=True)]
    summary = {"reason": gaps[0].reason, "types_used": list(gaps[0].groups_used)}
    for name in ("eod_signed", "eod_max_min", "equalized_odds"):
        values = [getattr(g, name) for g in gaps]
        summary[name] = {"mean": _mean(values), "sd": _sd(values), "per_seed": values}
    return summary


def _calibration(result: ExperimentResult, strategy: str) -> dict:
    """Reliability curves (all seeds pooled), overall and for FST V–VI: mean predicted probability vs observed frequency."""
    test = result.data.test
    curves = {}
    for group, mask in (("all", np.ones(len(test), bool)), ("V-VI", group_masks(test.fst)["V-VI"])):
        probability = result.probabilities[strategy][:, mask].ravel()
        observed = np.tile(test.malignant[mask].astype(float), result.settings.seeds)
        bins = np.minimum((probability * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
        curves[group] = [{"predicted": float(probability[bins == b].mean()), "observed": float(observed[bins == b].mean()),
                          "n": int((bins == b).sum())} for b in range(CALIBRATION_BINS) if (bins == b).any()]
    return curves


def _comparisons(result: ExperimentResult, strategy: str) -> dict:
    """Per group: the AUROC difference strategy − baseline (seed means), with its paired bootstrap 95% CI."""
    s, test = result.settings, result.data.test
    y, masks = test.malignant.astype(int), group_masks(test.fst)
    out = {}
    for g, group in enumerate(GROUPS):
        m = masks[group]
        positives, negatives = int(y[m].sum()), int((1 - y[m]).sum())
        counts = {"n": int(m.sum()), "n_positive": positives}
        if min(positives, negatives) < MIN_PER_CLASS:
            out[group] = {**counts, "difference": None,
                          "reason": f"{positives} malignant and {negatives} benign test images; needs at least {MIN_PER_CLASS} of each"}
            continue
        difference, low, high = paired_difference_ci(y[m], result.probabilities[BASELINE][:, m], result.probabilities[strategy][:, m],
                                                     auroc, n_boot=s.n_boot, seed=g)
        out[group] = {**counts, "difference": difference, "low": low, "high": high}
    return out


def _oracle_gap(result: ExperimentResult, strategy: str) -> dict:
    """On FST V–VI: the share of the real-only → oracle gain that ``strategy`` achieves, with 95% CIs (1: as good as adding
    the real images; 0: no better than real-only) — in AUROC, in sensitivity at the clinic's specificity, and in TPR at each
    model's own validation threshold (where the harm of a threshold chosen on light skin shows)."""
    s, test = result.settings, result.data.test
    y, mask = test.malignant.astype(int), group_masks(test.fst)["V-VI"]
    positives, negatives = int(y[mask].sum()), int((1 - y[mask]).sum())
    out = {"n": int(mask.sum()), "n_positive": positives}
    if min(positives, negatives) < MIN_PER_CLASS:
        reason = f"FST V–VI: {positives} malignant and {negatives} benign test images; needs at least {MIN_PER_CLASS} of each"
        return {**out, **{name: {"fraction": None, "reason": reason} for name in ORACLE_GAP_MEASURES}}

    sensitivity = functools.partial(sensitivity_at_specificity, specificity=s.specificity)

    def tpr_at_threshold(labels: np.ndarray, margins: np.ndarray) -> float:  # margins: score − the seed's own threshold
        return float((margins[labels == 1] >= 0).mean())

    for name, statistic, shifted in (("auroc", auroc, False), ("sensitivity", sensitivity, False), ("tpr", tpr_at_threshold, True)):
        scores = [result.probabilities[m][:, mask] - (result.thresholds[m][:, None] if shifted else 0)
                  for m in (BASELINE, strategy, ORACLE)]
        fraction, low, high, reason = paired_gap_closed_ci(y[mask], *scores, statistic, n_boot=s.n_boot)
        out[name] = {"fraction": fraction, "low": low, "high": high, "reason": reason}
    return out


def _tone_audit(result: ExperimentResult) -> dict | None:
    copies = result.tone_audited
    if copies is None:
        return None
    return {"images": len(copies.rows), "no_skin": copies.no_skin,
            "by_source_type": {ROMAN[t]: int((copies.source_fst == t).sum()) for t in ROMAN},
            "models": result.tone_audit}


def predictions_table(result: ExperimentResult) -> pd.DataFrame:
    """Every test image's P(malignant) by every model and seed, with its label and skin type: the figures can be recomputed from it."""
    test = result.data.test
    return pd.DataFrame([
        {"model": strategy, "seed": seed, "image_id": image_id, "malignant": bool(label), "fst": None if np.isnan(fst) else int(fst),
         "probability": float(p), "predicted_malignant": bool(p >= result.thresholds[strategy][seed])}
        for strategy, scores in result.probabilities.items() for seed, row in enumerate(scores)
        for image_id, label, fst, p in zip(test.image_id, test.malignant, test.fst, row, strict=True)
    ])


def build_report(result: ExperimentResult) -> tuple[dict, pd.DataFrame]:
    """The report (module docstring) of a finished experiment, and its by-group table."""
    s, data = result.settings, result.data
    note = skin_type_note(data.test)
    by_group = pd.DataFrame([row for strategy in s.strategies for row in _model_rows(result, strategy, note)], columns=BY_GROUP_COLUMNS)
    y = data.test.malignant.astype(int)
    report = {
        "settings": {**dataclasses.asdict(s), "validation": data.validation, "classes": list(data.classes)},
        "notes": data.notes,
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "skin_types": note,
        "fst_estimated": data.fst_estimated_in_test,
        "data": {name: _set_summary(getattr(data, name)) for name in ("train", "val", "test", "synthetic", "oracle")},
        "runs": [dataclasses.asdict(run) for run in result.runs],
        "seconds": result.seconds,
        "feature_seconds": result.feature_seconds,
        "by_group": json.loads(by_group.to_json(orient="records")),
        "fairness": {strategy: _fairness(result, strategy) for strategy in s.strategies},
        "calibration": {strategy: _calibration(result, strategy) for strategy in s.strategies},
        "comparisons": {strategy: _comparisons(result, strategy) for strategy in s.strategies if strategy != BASELINE},
        "verdict": {strategy: verdict(y, data.test.fst, result.probabilities[BASELINE], result.thresholds[BASELINE],
                                      result.probabilities[strategy], result.thresholds[strategy], n_boot=s.n_boot,
                                      specificity=s.specificity)
                    for strategy in s.strategies if strategy != BASELINE},
        "oracle_gap": ({strategy: _oracle_gap(result, strategy) for strategy in s.strategies if strategy not in (BASELINE, ORACLE)}
                       if ORACLE in s.strategies else {}),
        "tone_audit": _tone_audit(result),
    }
    return report, by_group


def summary_lines(report: dict) -> list[str]:
    """The verdict in words, one line per strategy and criterion."""
    lines = [f"Skin types of the test set: {report['skin_types']}."]
    for strategy, judged in report["verdict"].items():
        lines.append(f"{strategy} vs real-only: {judged['overall']}")
        lines += [f"  {c['name']}: {c['status']} — {c['detail']}" for c in [*judged["criteria"], judged["clinical"]]]
        gap = report.get("oracle_gap", {}).get(strategy)
        if gap:
            lines += [f"  share of the real-only → oracle gain on FST V–VI, {name}: " + (
                f"{gap[name]['fraction']:.2f} (95% CI {gap[name]['low']:.2f} to {gap[name]['high']:.2f})"
                if gap[name]["fraction"] is not None else f"not computable — {gap[name]['reason']}") for name in ORACLE_GAP_MEASURES]
    audit = report.get("tone_audit")
    if audit:
        lines.append(f"Counterfactual tone audit: {audit['images']} test images moved to every other skin type "
                     f"({audit['no_skin']} without measurable skin were not moved); decisions flipped, by source type:")
        for strategy, by_type in audit["models"].items():
            flips = ", ".join(f"{t} {v['flip_rate']:.0%}" for t, v in by_type.items() if v["flip_rate"] is not None)
            lines.append(f"  {strategy}: {flips}")
    return lines


def _table_html(by_group: pd.DataFrame) -> str:
    shown = by_group.copy()
    for column in ("auroc", "auroc_low", "auroc_high", "auroc_sd", "sensitivity_at_specificity", "tpr", "fpr", "ece"):
        shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
    return shown.to_html(index=False, escape=True, border=0)


def report_html(report: dict, by_group: pd.DataFrame) -> str:
    """The self-contained page: verdict, figures (plotly), the by-group table. Every text from the data is escaped."""
    figures = report_figures(report)
    parts = [pio.to_html(f, full_html=False, include_plotlyjs=(i == 0)) for i, f in enumerate(figures.values())]
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>fairskin downstream fairness report</title></head>"
        "<body style='font-family:sans-serif'><h1>Downstream fairness: real-only vs each strategy</h1>"
        f"<pre>{escape(chr(10).join(summary_lines(report)))}</pre>{''.join(parts)}"
        f"<h2>Per model and skin-type group (skin types {escape(report['skin_types'])})</h2>{_table_html(by_group)}</body></html>"
    )


def write_report(report: dict, by_group: pd.DataFrame, predictions: pd.DataFrame, folder: Path) -> None:
    with atomic_file(folder / "report.json", "w") as handle:
        json.dump(report, handle, indent=2)
    for name, table in (("by_group", by_group), ("predictions", predictions)):
        with atomic_file(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
            write_report_csv(table, handle)
    with atomic_file(folder / "report.html", "w", encoding="utf-8") as handle:
        handle.write(report_html(report, by_group))


def downstream_report(settings: ExperimentSettings, out: str | Path, *, overwrite: bool = False,
                      progress: Callable[[str], None] | None = None, allowed_roots: list[Path] | None = None,
                      allow_download: bool = True) -> tuple[dict, Path]:
    """Run the experiment and write its report into the new folder ``out``, all or nothing: what `fairskin downstream` does.
    An ``out`` that cannot be written is refused before the minutes of training, not after. ``allow_download``: see
    `run_experiment`."""
    from .experiment import run_experiment

    with atomic_dir(out, overwrite=overwrite) as folder:
        result = run_experiment(settings, progress, allowed_roots, allow_download)
        report, by_group = build_report(result)
        write_report(report, by_group, predictions_table(result), folder)
    return report, Path(out)


def read_report(folder: str | Path) -> tuple[dict, pd.DataFrame]:
    """A written report (report.json and by_group.csv) back, for the app; a folder without them is named."""
    folder = Path(folder)
    if not (folder / "report.json").is_file() or not (folder / "by_group.csv").is_file():
        raise FileNotFoundError(f"{folder}: not a downstream report (no report.json and by_group.csv); run `fairskin downstream --out`")
    return json.loads((folder / "report.json").read_text()), pd.read_csv(folder / "by_group.csv", keep_default_na=False, na_values=[""])
