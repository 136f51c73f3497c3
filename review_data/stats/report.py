"""The whole study: detection and realism overall and per group, agreement, ABCD, per image and per reviewer."""

from __future__ import annotations

import math

import pandas as pd

from fairskin_core.fst import FST_GROUPS, ROMAN

from .abcd import _abcd_answers
from .agreement import _call_agreement, _realism_agreement
from .detection import _detection_stats, cell_indicators, detection_rates
from .jsonable import jsonable
from .ratings import ARMS, POSITIVE, TARGET_SYNTHETIC_JUDGED_REAL, UNKNOWN, checked_ratings
from .reader_study import _study_mrmc_auc
from .realism import _realism_stats

GROUP_KINDS = ("reviewer", "fst", "fst_group", "diagnosis", "reviewer_group", "reviewer_group_fst", "reviewer_group_diagnosis")
TYPE_KINDS = ("fst", "fst_group")  # groups by skin type: each says how its images' types are known
READER_GROUP_KINDS = {  # per reviewer group (alone, by skin type, by diagnosis): reported where any reviewer has a group
    "reviewer_group": (), "reviewer_group_fst": ("fst",), "reviewer_group_diagnosis": ("diagnosis",)}
UNGROUPED = "no group"  # reviewers enrolled without one
REVIEWER_COLUMNS = (
    "reviewer", "n_ratings", "accuracy", "sensitivity", "specificity",
    "mean_realism_real", "mean_realism_synthetic",
    "n_timed", "seconds_median", "seconds_mean", "seconds_min", "seconds_q1", "seconds_q3", "seconds_max",
)
POSITIVE_CLASS_NOTE = (
    "Synthetic is the positive class: sensitivity = share of synthetic images called synthetic, "
    "specificity = share of real images called real, 1 - sensitivity = share of synthetic images judged real."
)


def study_report(
    ratings: pd.DataFrame,
    *,
    margin: float = 0.10,
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict:
    """Everything the study reports, as a JSON-ready dictionary (numbers, None, lists, dicts).

    Overall and per reviewer / skin type / FST group / diagnosis (and, where reviewers have groups, per reviewer group
    alone, by skin type and by diagnosis): detection and realism. Study-wide: agreement
    between reviewers, the reader-averaged AUC of realism with its multi-reader multi-case interval
    (``mrmc_auc``, see `study_mrmc_auc`; ``mrmc_auc_certainty`` the same of the call with its certainty, where the study
    asks how sure each call is), ABCD answers, a row per image and per reviewer, and notes. Bootstraps use
    ``n_boot`` replicates from ``seed``, so the same ratings always give the same report.
    """
    table = checked_ratings(ratings)
    bootstrap = {"n_boot": n_boot, "seed": seed, "confidence": confidence}
    overall = {
        "group": "all",
        "n_ratings": len(table),
        "detection": _detection_stats(table, margin=margin, alpha=alpha, **bootstrap),
        "realism": _realism_stats(table, **bootstrap),
    }
    return jsonable({
        "positive_class": POSITIVE,
        "settings": {
            "margin": margin, "alpha": alpha, **bootstrap, "target_synthetic_judged_real": TARGET_SYNTHETIC_JUDGED_REAL,
        },
        "n_ratings": len(table),
        "n_reviewers": table["reviewer"].nunique(),
        "n_images": table["image"].nunique(),
        "n_images_by_source": {arm: int(table.loc[table["source"] == arm, "image"].nunique()) for arm in ARMS},
        "overall": overall,
        **{f"by_{by}": _group_stats(table, by, margin=margin, alpha=alpha, **bootstrap) for by in GROUP_KINDS
           if by not in READER_GROUP_KINDS or (table["reviewer_group"] != "").any()},
        "agreement": {"calls": _call_agreement(table, **bootstrap), "realism": _realism_agreement(table, **bootstrap)},
        "mrmc_auc": _study_mrmc_auc(table, confidence=confidence),
        **({"mrmc_auc_certainty": _study_mrmc_auc(table, confidence=confidence, score="call_score")}
           if table["call_score"].notna().any() else {}),
        "abcd": _abcd_answers(table, seed=seed),
        "images": _image_summary(table).to_dict("records"),
        "reviewers": _reviewer_summary(table).to_dict("records"),
        "notes": _study_notes(table, overall["detection"]),
    })


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
    """Detection and realism within each reviewer, skin type (I-VI), FST group (I-II, III-IV, V-VI), diagnosis, reviewer
    group (dermatologist, resident, ...: `study.enrol_reviewer`), or reviewer group by skin type or by diagnosis
    ("dermatologist · V").

    Types and FST groups are always listed, empty ones included; blanks are grouped as "unknown" (reviewers without a
    group as "no group"), and a study reports per reviewer group only where some reviewer has one. A
    group by skin type also says how its images' types are known, per arm (``type_sources``: images per
    fst_source, e.g. real annotated or estimated by the learned estimator, synthetic requested).
    """
    if by not in GROUP_KINDS:
        raise ValueError(f"by must be one of {GROUP_KINDS}, got {by!r}")
    return _group_stats(
        checked_ratings(ratings), by, margin=margin, alpha=alpha, n_boot=n_boot, seed=seed, confidence=confidence
    )


def _group_stats(
    table: pd.DataFrame, by: str, *, margin: float, alpha: float, n_boot: int, seed: int, confidence: float
) -> list[dict]:
    """`group_stats` of a checked table."""
    if by in READER_GROUP_KINDS:
        labels = table["reviewer_group"].replace("", UNGROUPED)
        for column in READER_GROUP_KINDS[by]:
            labels = labels + " · " + table[column].replace("", UNKNOWN)
    else:
        labels = table[by].replace("", UNKNOWN)
    if by in TYPE_KINDS:
        names = [*(ROMAN.values() if by == "fst" else FST_GROUPS), *([UNKNOWN] if (labels == UNKNOWN).any() else [])]
    else:
        names = sorted(labels.unique())
    bootstrap = {"n_boot": n_boot, "seed": seed, "confidence": confidence}
    groups = [
        {
            "group": name,
            "n_ratings": int((labels == name).sum()),
            "detection": _detection_stats(table[labels == name], margin=margin, alpha=alpha, **bootstrap),
            "realism": _realism_stats(table[labels == name], **bootstrap),
        }
        for name in names
    ]
    if by in (*TYPE_KINDS, "reviewer_group_fst"):
        for group in groups:
            group["type_sources"] = type_sources(table[labels == group["group"]])
    return groups


def type_sources(table: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per arm, how many images' skin types are known each way (fst_source; "not recorded" where blank)."""
    images = table.drop_duplicates("image")
    counts = {arm: images.loc[images["source"] == arm, "fst_source"].value_counts() for arm in ARMS}
    return {arm: {source or "not recorded": int(n) for source, n in counts[arm].items()} for arm in ARMS}


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


def image_summary(ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per image: n ratings, share judged real (a synthetic image's fooling rate), mean realism."""
    return _image_summary(checked_ratings(ratings))


def _image_summary(table: pd.DataFrame) -> pd.DataFrame:
    """`image_summary` of a checked table."""
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


def reviewer_summary(ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per reviewer: n, detection rates (synthetic positive), mean realism per arm, time per image.

    The rows of reviewer_summary.csv; intervals and tests per reviewer are in `study_report`.
    """
    return _reviewer_summary(checked_ratings(ratings))


def _reviewer_summary(table: pd.DataFrame) -> pd.DataFrame:
    """`reviewer_summary` of a checked table."""
    rows = [_reviewer_row(reviewer, own) for reviewer, own in table.groupby("reviewer", sort=True)]
    return pd.DataFrame(rows, columns=list(REVIEWER_COLUMNS))


def _reviewer_row(reviewer: str, own: pd.DataFrame) -> dict:
    rates = detection_rates(cell_indicators(own).sum(axis=0))
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
