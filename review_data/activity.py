"""What each study and each of its reviewers has done so far: for the admin following studies while they run."""

from __future__ import annotations

import pandas as pd

from .sampling import MATCH_ON
from .store import ReviewStore
from .study import get_study

ACTIVITY_COLUMNS = ["username", "rated", "total", "median_seconds", "last_active", "disabled", "practice_answered"]
ACTIVITY_HEADERS = ["reviewer", "rated", "of", "median seconds per image", "last active (UTC)", "practice answered", "account"]


def reviewer_activity(store: ReviewStore, study_name: str) -> pd.DataFrame:
    """One row per enrolled reviewer: images rated of their total, median seconds per rated image, the time of
    their latest save (UTC, ISO 8601; practice answers count as activity), whether their account is disabled,
    and how many practice images they answered."""
    study = get_study(store, study_name)
    reviewers = store.db.execute(
        "SELECT a.id, a.username, a.disabled,"
        " (SELECT count(*) FROM assignments g WHERE g.study_id = r.study_id AND g.reviewer_id = r.reviewer_id) AS total,"
        " (SELECT count(*) FROM practice_ratings p WHERE p.study_id = r.study_id AND p.reviewer_id = r.reviewer_id) AS practice,"
        " (SELECT max(p.updated_at) FROM practice_ratings p WHERE p.study_id = r.study_id AND p.reviewer_id = r.reviewer_id)"
        " AS practice_saved FROM study_reviewers r JOIN accounts a ON a.id = r.reviewer_id WHERE r.study_id = ? ORDER BY a.username",
        [study.id],
    ).fetchall()
    ratings = pd.DataFrame(
        [tuple(row) for row in store.db.execute("SELECT reviewer_id, seconds, updated_at FROM ratings WHERE study_id = ?", [study.id])],
        columns=["reviewer_id", "seconds", "updated_at"],
    )
    by_reviewer = ratings.groupby("reviewer_id")
    rated, median, saved = by_reviewer.size(), by_reviewer["seconds"].median(), by_reviewer["updated_at"].max()
    rows = []
    for row in reviewers:
        latest = [t for t in (saved.get(row["id"]), row["practice_saved"]) if isinstance(t, str)]
        seconds = median.get(row["id"])  # NaN where every rating lacks its time
        rows.append((row["username"], int(rated.get(row["id"], 0)), row["total"], None if seconds is None else float(seconds),
                     max(latest) if latest else None, bool(row["disabled"]), row["practice"]))
    return pd.DataFrame(rows, columns=ACTIVITY_COLUMNS)


def activity_table(store: ReviewStore, study_name: str) -> pd.DataFrame:
    """`reviewer_activity` as the admin reads it (`ACTIVITY_HEADERS`): times to the second, a dash for what is not known yet."""
    table = reviewer_activity(store, study_name)
    shown = pd.DataFrame({
        "reviewer": table["username"],
        "rated": table["rated"],
        "of": table["total"],
        "median seconds per image": [("—" if pd.isna(s) else f"{s:.1f}") for s in table["median_seconds"]],
        "last active (UTC)": [(t[:19].replace("T", " ") if isinstance(t, str) else "—") for t in table["last_active"]],
        "practice answered": table["practice_answered"],
        "account": ["disabled" if d else "active" for d in table["disabled"]],
    })
    return shown[ACTIVITY_HEADERS]


def study_overview(store: ReviewStore) -> pd.DataFrame:
    """Per study: images, how the arms were matched, practice images and hidden checks, reviewers, ratings saved, and when it
    was made."""
    rows = store.db.execute(
        "SELECT s.name AS study, s.n_per_arm * 2 AS images, s.image_size AS size_px, s.matched_on, s.fst_estimated,"
        " (SELECT count(*) FROM practice_images p WHERE p.study_id = s.id) AS practice,"
        " (SELECT count(*) FROM check_images c WHERE c.study_id = s.id) AS checks,"
        " (SELECT count(*) FROM study_reviewers r WHERE r.study_id = s.id) AS reviewers,"
        " (SELECT count(*) FROM ratings g WHERE g.study_id = s.id) AS ratings, s.created_at AS created,"
        " CASE WHEN s.closed_at IS NULL THEN 'open' ELSE 'closed' END AS status"
        " FROM studies s ORDER BY s.id"
    ).fetchall()
    table = [(name, images, size, MATCH_ON[on] + (" (estimated skin types)" if estimated else ""), *rest)
             for name, images, size, on, estimated, *rest in rows]
    columns = ["study", "images", "size_px", "matched on", "practice", "hidden checks", "reviewers", "ratings", "created", "status"]
    return pd.DataFrame(table, columns=columns)
