"""The study's results as tables: every rating joined with the answer key, and summaries.

`export_study` writes three CSV files — ``ratings.csv`` (one row per rating, every field),
``reviewer_summary.csv`` and ``study_summary.csv`` (its first row says how the arms were
matched) — each atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from fairskin_core.atomic import atomic_file

from .answers import ABCD_QUESTIONS
from .stats import reviewer_summary, study_report, study_summary
from .store import ReviewStore
from .study import get_study

RATING_COLUMNS = ["call", "realism", *ABCD_QUESTIONS, "comment", "seconds", "revision", "created_at", "updated_at"]


def ratings_table(store: ReviewStore, study_name: str) -> pd.DataFrame:
    """One row per rating with the key: reviewer, position, image (opaque and original), source, FST, diagnosis, answers."""
    study = get_study(store, study_name)
    rows = store.db.execute(
        "SELECT a.username AS reviewer, g.position, r.image_id AS image, i.source, i.image_id AS source_image_id,"
        " i.manifest_row, i.fst, i.fst_group, i.diagnosis, "
        + ", ".join(f"r.{c}" for c in RATING_COLUMNS)
        + " FROM ratings r JOIN accounts a ON a.id = r.reviewer_id JOIN study_images i ON i.id = r.image_id"
        " JOIN assignments g ON g.study_id = r.study_id AND g.reviewer_id = r.reviewer_id AND g.image_id = r.image_id"
        " WHERE r.study_id = ? ORDER BY a.username, g.position",
        [study.id],
    ).fetchall()
    columns = ["reviewer", "position", "image", "source", "source_image_id", "manifest_row", "fst", "fst_group", "diagnosis", *RATING_COLUMNS]
    table = pd.DataFrame([tuple(row) for row in rows], columns=columns)
    table.insert(0, "study", study.name)
    table["dataset"] = [json.loads(m).get("dataset", "") for m in table.pop("manifest_row")]
    table["fst"] = table["fst"].astype("Int64")
    return table


def export_study(store: ReviewStore, study_name: str, out_dir: str | Path) -> list[Path]:
    """Write ratings.csv, reviewer_summary.csv and study_summary.csv into ``out_dir``."""
    out_dir = Path(out_dir)
    ratings = ratings_table(store, study_name)
    summary = study_summary(study_report(ratings))
    design = pd.DataFrame([{"group_kind": "study", "group": "design", "metric": "matched_on", "note": get_study(store, study_name).design}])
    tables = {
        "ratings.csv": ratings,
        "reviewer_summary.csv": reviewer_summary(ratings),
        "study_summary.csv": pd.concat([design, summary], ignore_index=True)[summary.columns],
    }
    written = []
    for name, table in tables.items():
        with atomic_file(out_dir / name, "w", newline="", encoding="utf-8") as handle:
            table.to_csv(handle, index=False)
        written.append(out_dir / name)
    return written
