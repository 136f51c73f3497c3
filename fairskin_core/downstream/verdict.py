"""The verdict: does a strategy meet the research plan's success criteria against the real-only baseline?

1. FST V–VI AUROC up by at least 10% (relative);
2. FST I–III AUROC down by less than 2% (relative);
3. the equal-opportunity difference reduced: |TPR(V–VI) − TPR(I–II)| smaller.

Each is judged on a paired bootstrap of the test images (both models scored on the same
resamples, each the mean over seeds): "met" when the whole 95% CI clears the bar, "not met" when
the whole CI misses it, "inconclusive (CI too wide)" when the CI straddles it, "not computable"
when a group has too few cases (the reason says how many).

Beside them, not part of the plan's call: FST V–VI sensitivity at a fixed specificity (as a clinic
sets its threshold), up or down. AUROC is blind to where the threshold sits and prevalence differs
by type, so a strategy can pass on AUROC while missing as many dark-skin malignancies as before.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .metrics import (
    MIN_PER_CLASS,
    auroc,
    group_masks,
    paired_difference_ci,
    paired_relative_change_ci,
    sensitivity_at_specificity,
    stratified_bootstrap_indices,
)

DARK_GAIN = 0.10
LIGHT_LOSS = 0.02
MET, NOT_MET, INCONCLUSIVE, NOT_COMPUTABLE = "met", "not met", "inconclusive (CI too wide)", "not computable"


@dataclass(frozen=True)
class Criterion:
    name: str
    status: str
    estimate: float | None
    low: float | None
    high: float | None
    detail: str


def _judge(low: float, high: float, bar: float, above: bool) -> str:
    """Met when the CI lies wholly on the good side of ``bar`` (above it, or below it), not met when wholly on the other."""
    if above:
        return MET if low >= bar else NOT_MET if high < bar else INCONCLUSIVE
    return MET if high < bar else NOT_MET if low >= bar else INCONCLUSIVE


def _too_few(y: np.ndarray, mask: np.ndarray, group: str) -> str:
    positives, negatives = int(y[mask].sum()), int((1 - y[mask]).sum())
    if positives < MIN_PER_CLASS or negatives < MIN_PER_CLASS:
        return f"FST {group}: {positives} malignant and {negatives} benign test images; needs at least {MIN_PER_CLASS} of each"
    return ""


def _auroc_change(name: str, group: str, bar: float, above: bool, y, fst, baseline, strategy, n_boot: int, seed: int) -> Criterion:
    mask = group_masks(fst)[group]
    reason = _too_few(y, mask, group)
    if reason:
        return Criterion(name, NOT_COMPUTABLE, None, None, None, reason)
    change, low, high = paired_relative_change_ci(y[mask], baseline[:, mask], strategy[:, mask], auroc, n_boot=n_boot, seed=seed)
    status = _judge(low, high, bar, above)
    return Criterion(name, status, change, low, high,
                     f"FST {group} AUROC {change:+.1%} relative (95% CI {low:+.1%} to {high:+.1%}; bar {bar:+.0%}), "
                     f"{int(mask.sum())} test images, {int(y[mask].sum())} malignant")


def _eod(y: np.ndarray, fst: np.ndarray, scores: np.ndarray, thresholds: np.ndarray, rows: np.ndarray) -> float:
    """|TPR(V–VI) − TPR(I–II)| of the seed-mean TPRs on the resampled ``rows`` (NaN where a group has no positive)."""
    y, fst, scores = y[rows], fst[rows], scores[:, rows]
    masks = group_masks(fst)
    tprs = []
    for group in ("V-VI", "I-II"):
        positives = masks[group] & (y == 1)
        if not positives.any():
            return float("nan")
        tprs.append(np.mean([(s[positives] >= t).mean() for s, t in zip(scores, thresholds, strict=True)]))
    return abs(tprs[0] - tprs[1])


def _eod_change(y, fst, baseline, baseline_thresholds, strategy, strategy_thresholds, n_boot: int, seed: int) -> Criterion:
    name = "equal-opportunity difference reduced"
    masks = group_masks(fst)
    for group in ("V-VI", "I-II"):
        if int((y[masks[group]] == 1).sum()) < MIN_PER_CLASS:
            return Criterion(name, NOT_COMPUTABLE, None, None, None,
                             f"FST {group}: {int((y[masks[group]] == 1).sum())} malignant test images; needs at least {MIN_PER_CLASS}")
    every = np.arange(len(y))
    before, after = _eod(y, fst, baseline, baseline_thresholds, every), _eod(y, fst, strategy, strategy_thresholds, every)
    resampled = np.array([_eod(y, fst, strategy, strategy_thresholds, rows) - _eod(y, fst, baseline, baseline_thresholds, rows)
                          for rows in stratified_bootstrap_indices(y, n_boot, seed)])
    low, high = np.nanpercentile(resampled, [2.5, 97.5])
    status = _judge(low, high, 0.0, above=False)
    return Criterion(name, status, after - before, float(low), float(high),
                     f"|TPR(V–VI) − TPR(I–II)| {before:.3f} → {after:.3f} (change {after - before:+.3f}, 95% CI {low:+.3f} to {high:+.3f})")


def _sensitivity_change(y, fst, baseline, strategy, specificity: float, n_boot: int, seed: int) -> Criterion:
    name = f"FST V–VI sensitivity at {specificity:.0%} specificity up (clinical, not in the plan)"
    mask = group_masks(fst)["V-VI"]
    reason = _too_few(y, mask, "V-VI")
    if reason:
        return Criterion(name, NOT_COMPUTABLE, None, None, None, reason)

    sensitivity = functools.partial(sensitivity_at_specificity, specificity=specificity)
    change, low, high = paired_difference_ci(y[mask], baseline[:, mask], strategy[:, mask], sensitivity, n_boot=n_boot, seed=seed)
    status = MET if low > 0 else NOT_MET if high <= 0 else INCONCLUSIVE
    return Criterion(name, status, change, low, high,
                     f"{change:+.3f} (95% CI {low:+.3f} to {high:+.3f}) on {int(mask.sum())} test images, "
                     f"{int(y[mask].sum())} malignant")


def verdict(y, fst, baseline, baseline_thresholds, strategy, strategy_thresholds, n_boot: int = 1000, seed: int = 0,
            specificity: float = 0.8) -> dict:
    """The three criteria (module docstring) for one strategy, and the overall call: met only if all are met; and the
    clinical sensitivity beside them."""
    y, fst = np.asarray(y, dtype=int), np.asarray(fst, dtype=float)
    criteria = [
        _auroc_change(f"FST V–VI AUROC up by ≥ {DARK_GAIN:.0%}", "V-VI", DARK_GAIN, True, y, fst, baseline, strategy, n_boot, seed),
        _auroc_change(f"FST I–III AUROC down by < {LIGHT_LOSS:.0%}", "I-III", -LIGHT_LOSS, True, y, fst, baseline, strategy, n_boot, seed),
        _eod_change(y, fst, baseline, baseline_thresholds, strategy, strategy_thresholds, n_boot, seed),
    ]
    statuses = [c.status for c in criteria]
    overall = NOT_MET if NOT_MET in statuses else MET if all(s == MET for s in statuses) else INCONCLUSIVE
    clinical = _sensitivity_change(y, fst, baseline, strategy, specificity, n_boot, seed)
    return {"overall": overall, "criteria": [c.__dict__ for c in criteria], "clinical": clinical.__dict__}
