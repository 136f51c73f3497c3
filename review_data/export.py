"""The study's results as tables: every rating joined with the answer key, and summaries.

`export_study` writes three CSV files — ``ratings.csv`` (one row per rating, every field),
``reviewer_summary.csv`` and ``study_summary.csv`` (its first row says how the arms were
matched, its second whether the export is final, the study closed, or interim, its third how
many text cells were neutralised for spreadsheets: `fairskin_core.spreadsheet_csv`) — each
atomically, and for a study with practice images ``practice.csv``: the practice answers with
the truth, which no statistic counts; likewise the hidden attention checks' answers (``checks.csv``,
and per reader ``reader_checks.csv``). `study_summary` flattens `study_report`'s dictionary into
the rows of ``study_summary.csv``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from fairskin_core.atomic import atomic_file
from fairskin_core.spreadsheet_csv import NOTE, safe_for_spreadsheets

from .answers import ABCD_ANSWERS, ABCD_QUESTIONS, call_score
from .attention_checks import reader_checks
from .imrmc_export import imrmc_key, imrmc_text
from .stats import GROUP_KINDS, reviewer_summary, study_report
from .store import ReviewStore, utc_now
from .study import Study, get_study

FILES = ["ratings.csv", "reviewer_summary.csv", "study_summary.csv", "practice.csv", "cannot_assess.csv", "checks.csv",
         "reader_checks.csv", "imrmc_key.csv"]
RATING_COLUMNS = ["call", "certainty", "realism", *ABCD_QUESTIONS, "comment", "seconds", "revision", "created_at", "updated_at"]
SUMMARY_COLUMNS = (
    "group_kind", "group", "metric", "estimate", "ci_low", "ci_high", "ci_method", "n", "p_value", "note",
)


def ratings_table(store: ReviewStore, study_name: str) -> pd.DataFrame:
    """One row per rating with the key: reviewer (and their group), position, image (opaque and original), source, FST,
    diagnosis, answers, and where the study asks how sure of the call, the 6-point ``call_score`` (`answers.call_score`)."""
    study = get_study(store, study_name)
    rows = store.db.execute(
        "SELECT a.username AS reviewer, e.reviewer_group, g.position, r.image_id AS image, i.source, i.image_id AS source_image_id,"
        " i.manifest_row, i.fst, i.fst_group, i.diagnosis, "
        + ", ".join(f"r.{c}" for c in RATING_COLUMNS)
        + " FROM ratings r JOIN accounts a ON a.id = r.reviewer_id JOIN study_images i ON i.id = r.image_id"
        " JOIN assignments g ON g.study_id = r.study_id AND g.reviewer_id = r.reviewer_id AND g.image_id = r.image_id"
        " JOIN study_reviewers e ON e.study_id = r.study_id AND e.reviewer_id = r.reviewer_id"
        " WHERE r.study_id = ? ORDER BY a.username, g.position",
        [study.id],
    ).fetchall()
    table = _keyed(study, rows, ["reviewer", "reviewer_group", "position", "image", "source", "source_image_id", "manifest_row", "fst",
                                 "fst_group", "diagnosis", *RATING_COLUMNS])
    rows_as_listed = [json.loads(m) for m in table.pop("manifest_row")]
    table["dataset"] = [row.get("dataset", "") for row in rows_as_listed]
    table["fst_source"] = [row.get("fst_source") or "" for row in rows_as_listed]  # annotated, learned, requested, ...
    table["certainty"] = table["certainty"].astype("Int64")
    table["call_score"] = pd.array([None if pd.isna(c) else call_score(call, int(c)) for call, c in
                                    zip(table["call"], table["certainty"], strict=True)], dtype="Int64")
    return table


def cannot_assess_table(store: ReviewStore, study_name: str) -> pd.DataFrame:
    """One row per image a reviewer set aside as one they cannot assess, with the key and their reason."""
    study = get_study(store, study_name)
    rows = store.db.execute(
        "SELECT a.username AS reviewer, g.position, x.image_id AS image, i.source, i.image_id AS source_image_id, i.fst, i.fst_group,"
        " i.diagnosis, x.reason, x.seconds, x.created_at, x.updated_at FROM cannot_assess x JOIN accounts a ON a.id = x.reviewer_id"
        " JOIN study_images i ON i.id = x.image_id"
        " JOIN assignments g ON g.study_id = x.study_id AND g.reviewer_id = x.reviewer_id AND g.image_id = x.image_id"
        " WHERE x.study_id = ? ORDER BY a.username, g.position",
        [study.id],
    ).fetchall()
    return _keyed(study, rows, ["reviewer", "position", "image", "source", "source_image_id", "fst", "fst_group", "diagnosis",
                                "reason", "seconds", "created_at", "updated_at"])


def check_answers_table(store: ReviewStore, study_name: str) -> pd.DataFrame:
    """One row per answer to a hidden attention check (`attention_checks`), with its truth and, for a repeat, the answer
    to the image's first showing (``first_*``, empty until that one is rated): never part of ``ratings_table``."""
    study = get_study(store, study_name)
    rows = store.db.execute(
        "SELECT a.username AS reviewer, c.position, k.kind, c.image_id AS image, k.truth, k.image_id AS source_image_id, k.fst,"
        " k.fst_group, k.diagnosis, " + ", ".join(f"r.{column}" for column in RATING_COLUMNS) + ", x.reason AS set_aside,"
        " g.position AS first_position, f.call AS first_call, f.realism AS first_realism"
        " FROM check_assignments c JOIN accounts a ON a.id = c.reviewer_id JOIN check_images k ON k.id = c.image_id"
        " LEFT JOIN check_ratings r ON r.reviewer_id = c.reviewer_id AND r.image_id = c.image_id"
        " LEFT JOIN check_cannot_assess x ON x.reviewer_id = c.reviewer_id AND x.image_id = c.image_id"
        " LEFT JOIN assignments g ON g.study_id = c.study_id AND g.reviewer_id = c.reviewer_id AND g.image_id = k.repeat_of"
        " LEFT JOIN ratings f ON f.reviewer_id = c.reviewer_id AND f.image_id = k.repeat_of"
        " WHERE c.study_id = ? AND (r.image_id IS NOT NULL OR x.image_id IS NOT NULL) ORDER BY a.username, c.position",
        [study.id],
    ).fetchall()
    table = _keyed(study, rows, ["reviewer", "position", "kind", "image", "truth", "source_image_id", "fst", "fst_group", "diagnosis",
                                 *RATING_COLUMNS, "set_aside", "first_position", "first_call", "first_realism"])
    table["first_position"] = table["first_position"].astype("Int64")
    table["correct"] = (table["call"] == table["truth"]).where(table["call"].notna())
    return table


def _keyed(study: Study, rows: list, columns: list[str]) -> pd.DataFrame:
    """Rows of a study's answers with their key (``columns``), as a table headed by the study's name."""
    table = pd.DataFrame([tuple(row) for row in rows], columns=columns)
    table.insert(0, "study", study.name)
    table["fst"] = table["fst"].astype("Int64")
    return table


def practice_table(store: ReviewStore, study_name: str) -> pd.DataFrame:
    """One row per practice answer with the truth (``source``): the calibration round, kept out of every statistic."""
    study = get_study(store, study_name)
    rows = store.db.execute(
        "SELECT a.username AS reviewer, p.image_id AS image, i.source, i.image_id AS source_image_id, i.fst, i.fst_group,"
        " i.diagnosis, " + ", ".join(f"p.{c}" for c in RATING_COLUMNS)
        + " FROM practice_ratings p JOIN accounts a ON a.id = p.reviewer_id JOIN practice_images i ON i.id = p.image_id"
        " WHERE p.study_id = ? ORDER BY a.username, p.created_at",
        [study.id],
    ).fetchall()
    table = _keyed(study, rows, ["reviewer", "image", "source", "source_image_id", "fst", "fst_group", "diagnosis", *RATING_COLUMNS])
    table["correct"] = table["call"] == table["source"]
    return table


def export_status(study: Study) -> str:
    """Whether an export is final or interim, in the words a statistician reads first in study_summary.csv."""
    if study.closed_at:
        return f"final: study closed at {study.closed_at} (UTC), its ratings can no longer change"
    return f"interim (study still open: ratings may change); exported at {utc_now()} (UTC)"


def export_study(store: ReviewStore, study_name: str, out_dir: str | Path) -> list[Path]:
    """Write ratings.csv, reviewer_summary.csv and study_summary.csv into ``out_dir``; practice.csv for a study with
    practice; cannot_assess.csv when images were set aside; checks.csv and reader_checks.csv for a study with attention
    checks; and, once there are ratings, ratings.imrmc with its imrmc_key.csv (for iMRMC and RJafroc), in the order of
    `FILES` (the .imrmc last)."""
    out_dir = Path(out_dir)
    study = get_study(store, study_name)
    ratings = ratings_table(store, study_name)
    summary = study_summary(study_report(ratings))
    tables = {"ratings.csv": ratings, "reviewer_summary.csv": reviewer_summary(ratings)}
    if study.n_practice:
        tables["practice.csv"] = practice_table(store, study_name)
    if len(ratings):
        tables["imrmc_key.csv"] = imrmc_key(ratings)
    set_aside = cannot_assess_table(store, study_name)
    if len(set_aside):
        tables["cannot_assess.csv"] = set_aside
    checks = check_answers_table(store, study_name)
    if study.n_repeats or study.n_gold:
        tables["checks.csv"], tables["reader_checks.csv"] = checks, reader_checks(checks)
    tables = {name: safe_for_spreadsheets(table) for name, table in tables.items()}
    neutralised = sum(changed for _, changed in tables.values())
    head = pd.DataFrame([
        {"group_kind": "study", "group": "design", "metric": "matched_on", "note": study.design},
        {"group_kind": "study", "group": "status", "metric": "final" if study.closed_at else "interim", "note": export_status(study)},
        {"group_kind": "study", "group": "display", "metric": "image_size_px", "estimate": study.image_size, "note": study.shown_size},
        {"group_kind": "study", "group": "export", "metric": "formula_cells_neutralised", "estimate": neutralised, "note": NOTE},
        {"group_kind": "study", "group": "cannot assess", "metric": "images_set_aside", "estimate": len(set_aside),
         "note": "readings a reviewer set aside as impossible to judge (cannot_assess.csv): in no statistic of the ratings"},
        {"group_kind": "study", "group": "attention checks", "metric": "repeats_and_gold_per_reader",
         "estimate": study.n_repeats + study.n_gold, "n": len(checks),
         "note": f"{study.n_repeats} repeated and {study.n_gold} gold-standard images hidden in each reviewer's sequence; their "
                 "answers (checks.csv, per reader in reader_checks.csv) are in no statistic of the ratings"},
        *({"group_kind": "study", "group": "blinding check", "metric": f"arm_auc_{family.replace(' ', '_')}", "estimate": auc,
           "n": study.blinding.n_real + study.blinding.n_synthetic, "note": study.blinding.sentence()}
          for family, auc in (study.blinding.auc.items() if study.blinding else ())),
    ])
    summary_table = safe_for_spreadsheets(pd.concat([head, summary], ignore_index=True)[summary.columns])
    written = []
    tables["study_summary.csv"] = summary_table
    for name in sorted(tables, key=FILES.index):
        table, _ = tables[name]
        with atomic_file(out_dir / name, "w", newline="", encoding="utf-8") as handle:
            table.to_csv(handle, index=False)
        written.append(out_dir / name)
    if len(ratings):  # the same ratings for iMRMC and RJafroc (imrmc_export)
        with atomic_file(out_dir / "ratings.imrmc", "w", newline="\n", encoding="utf-8") as handle:
            handle.write(imrmc_text(ratings, study.name, "call_score" if study.asks_certainty else "realism"))
        written.append(out_dir / "ratings.imrmc")
    return written


def study_summary(report: dict) -> pd.DataFrame:
    """The report flattened to one row per (group kind, group, metric): the rows of study_summary.csv."""
    rows = []
    groups = [("all", report["overall"])] + [(by, group) for by in GROUP_KINDS for group in report.get(f"by_{by}", [])]
    for kind, group in groups:
        rows += _detection_rows(kind, group["group"], group["detection"])
        rows += _realism_rows(kind, group["group"], group["realism"])
        if "type_sources" in group:  # how the group's skin types are known: annotated, estimated, requested
            rows.append(_row(kind, group["group"], "type_sources", {"note": type_sources_text(group["type_sources"])}))
    for name, block in report["agreement"].items():
        rows.append(
            _row("agreement", name, block["statistic"], block, ci_method=block.get("ci_method"), n=block["n_ratings"])
        )
    for key, metric, prefix in (("mrmc_auc", "realism_auc_mrmc", "mrmc"), ("mrmc_auc_certainty", "certainty_auc_mrmc", "mrmc_certainty")):
        if key not in report:  # the certainty's only where the study asks how sure each call is
            continue
        mrmc = report[key]  # reader-averaged; its note names the reviewers left out, or why it is not estimable
        rows.append(_row("all", "all", metric, {**mrmc, "note": mrmc["note"] or mrmc["score"]}, ci_method=mrmc["method"],
                         n=mrmc["n_readers"] * mrmc["n_cases"], p_value=mrmc["p_value"]))
        rows.append(_row("all", "all", f"{prefix}_n_readers", {"estimate": mrmc["n_readers"], "note": mrmc["note"]}))
        rows.append(_row("all", "all", f"{prefix}_n_cases", {"estimate": mrmc["n_cases"]}))
    for item in report["abcd"]:
        for arm, answers in item["arms"].items():
            for answer in ABCD_ANSWERS:
                share = {"estimate": answers["shares"][answer]}
                rows.append(_row("abcd", item["item"], f"share_{answer}_{arm}", share, n=answers["n"]))
        test = item["test"]
        rows.append(_row("abcd", item["item"], "real_vs_synthetic_test", {"note": test["note"]},
                         ci_method=test["method"], p_value=test["p_value"]))
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def _detection_rows(kind: str, group: str, detection: dict) -> list[dict]:
    clustered, equivalence, n = detection["cluster_bootstrap"], detection["equivalence"], detection["n_ratings"]
    p_values = {
        "accuracy": detection["binomial_test"]["p_value"],
        "synthetic_judged_real": detection["synthetic_judged_real"]["p_value_above_target"],
    }
    rows = []
    for name in ("accuracy", "sensitivity", "specificity", "synthetic_judged_real"):
        wilson = detection[name]
        rows.append(_row(kind, group, name, wilson, ci_method="wilson", p_value=p_values.get(name)))
        rows.append(_row(kind, group, f"{name}_cluster", clustered[name], ci_method="image bootstrap", n=wilson["n"]))
    return rows + [
        _row(kind, group, "accuracy_cluster_reviewers_random", clustered["accuracy_reviewers_random"],
             ci_method="image and reviewer (pigeonhole) bootstrap", n=n),
        _row(kind, group, "design_effect", {"estimate": clustered["design_effect"]}, n=n),
        _row(kind, group, "tost_equivalent",
             {"estimate": _flag(equivalence["equivalent"]), "note": equivalence["note"]},
             ci_method="exact binomial TOST", n=n, p_value=equivalence["p_value"]),
        _row(kind, group, "tost_equivalent_cluster",
             {**clustered["equivalence"], "estimate": _flag(clustered["equivalence"]["equivalent"])},
             ci_method=f"image bootstrap {clustered['equivalence']['level']:.0%} interval", n=n),
        _row(kind, group, "tost_power", {"estimate": equivalence["power"]}, n=n),
        _row(kind, group, "tost_ratings_needed", {"estimate": equivalence["ratings_needed"]}),
    ]


def _realism_rows(kind: str, group: str, realism: dict) -> list[dict]:
    rows = []
    for arm, block in realism["arms"].items():
        for statistic in ("mean", "median"):
            rows.append(_row(kind, group, f"realism_{statistic}_{arm}", block[statistic],
                             ci_method="image bootstrap", n=block["n"]))
    rows.append(_row(kind, group, "realism_auc", realism["auc"], ci_method="image bootstrap",
                     n=realism["n_ratings"], p_value=realism["mann_whitney"]["p_value"]))
    return rows


def type_sources_text(sources: dict[str, dict[str, int]]) -> str:
    """"real: 12 annotated, 3 learned; synthetic: 15 requested" (images per way their skin type is known)."""
    return "; ".join(f"{arm}: " + ", ".join(f"{n} {source}" for source, n in counts.items()) for arm, counts in sources.items()
                     if counts) or "no images"


def _row(kind: str, group: str, metric: str, block: dict, *, ci_method=None, n=None, p_value=None) -> dict:
    return {
        "group_kind": kind,
        "group": group,
        "metric": metric,
        "estimate": block.get("estimate"),
        "ci_low": block.get("ci_low"),
        "ci_high": block.get("ci_high"),
        "ci_method": ci_method,
        "n": block.get("n", n),
        "p_value": p_value,
        "note": block.get("note"),
    }


def _flag(value: bool | None) -> float | None:
    """A yes / no result as 1 / 0 for a numeric CSV column (None stays None)."""
    return None if value is None else float(value)
