"""A reviewer going through a study: where they are, what they see, what they answered.

Everything is looked up by the signed-in username, never by anything the browser sends, so a
reviewer can reach only their own assignments and answers. Positions index the reviewer's own
random order; resuming starts at the first position without a rating.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .answers import ABCD_ANSWERS, ABCD_QUESTIONS, CALLS, MAX_COMMENT, REALISM
from .store import ReviewStore, utc_now
from .study import get_study


class ReviewError(ValueError):
    """A refused review action (not enrolled, unknown image, bad answer); says which and why."""


@dataclass(frozen=True)
class ReviewItem:
    """One position of a reviewer's order, with their saved answers if any."""

    position: int
    total: int
    rated: int
    image_id: str
    file: Path
    answers: dict | None


def reviewer_studies(store: ReviewStore, username: str) -> list[str]:
    rows = store.db.execute(
        "SELECT s.name FROM studies s JOIN study_reviewers r ON r.study_id = s.id"
        " JOIN accounts a ON a.id = r.reviewer_id WHERE a.username = ? ORDER BY s.id",
        [username],
    )
    return [row["name"] for row in rows]


def _enrolment(store: ReviewStore, study_name: str, username: str) -> tuple[int, int, Path]:
    study = get_study(store, study_name)
    row = store.db.execute(
        "SELECT a.id FROM accounts a JOIN study_reviewers r ON r.reviewer_id = a.id WHERE a.username = ? AND r.study_id = ?",
        [username, study.id],
    ).fetchone()
    if row is None:
        raise ReviewError(f"{username!r} is not a reviewer of study {study_name!r}")
    return study.id, row["id"], study.folder


def progress(store: ReviewStore, study_name: str, username: str) -> tuple[int, int, int]:
    """(images rated, images in total, first position without a rating — total when done)."""
    study_id, reviewer, _ = _enrolment(store, study_name, username)
    row = store.db.execute(
        "SELECT count(*) AS total, count(r.image_id) AS rated,"
        " min(CASE WHEN r.image_id IS NULL THEN a.position END) AS first_open"
        " FROM assignments a LEFT JOIN ratings r ON r.reviewer_id = a.reviewer_id AND r.image_id = a.image_id"
        " WHERE a.study_id = ? AND a.reviewer_id = ?",
        [study_id, reviewer],
    ).fetchone()
    first_open = row["first_open"] if row["first_open"] is not None else row["total"]
    return row["rated"], row["total"], first_open


def item_at(store: ReviewStore, study_name: str, username: str, position: int) -> ReviewItem:
    """The image at ``position`` of the reviewer's order, with their saved answers."""
    study_id, reviewer, folder = _enrolment(store, study_name, username)
    rated, total, _ = progress(store, study_name, username)
    if not 0 <= position < total:
        raise ReviewError(f"position {position} is outside this study's 0-{total - 1}")
    row = store.db.execute(
        "SELECT a.image_id, i.file, r.call, r.realism, r.abcd_asymmetry, r.abcd_border, r.abcd_colour, r.abcd_diameter, r.comment"
        " FROM assignments a JOIN study_images i ON i.id = a.image_id"
        " LEFT JOIN ratings r ON r.reviewer_id = a.reviewer_id AND r.image_id = a.image_id"
        " WHERE a.study_id = ? AND a.reviewer_id = ? AND a.position = ?",
        [study_id, reviewer, position],
    ).fetchone()
    answers = None
    if row["call"] is not None:
        answers = {k: row[k] for k in ("call", "realism", *ABCD_QUESTIONS, "comment")}
    return ReviewItem(position, total, rated, row["image_id"], folder / row["file"], answers)


def _realism(value) -> int | None:
    """1-7 from an int, a whole float or a digit string (a radio button's value); else None."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in REALISM:
        return None
    return value


def validate_answers(answers: dict) -> dict:
    """Clean answers, or a ReviewError naming every missing or out-of-range one.

    A missing answer is what a reviewer can leave out, so it is asked for in their words; a
    value outside the choices can only come from code, so it is named."""
    problems, clean = [], {}
    call = answers.get("call")
    if call is None:
        problems.append("pick whether the image looks real or synthetic")
    elif call not in CALLS:
        problems.append(f"the call must be real or synthetic, not {call!r}")
    clean["call"] = call
    clean["realism"] = _realism(answers.get("realism"))
    if answers.get("realism") is None:
        problems.append("pick a realism score from 1 to 7")
    elif clean["realism"] is None:
        problems.append(f"realism must be a whole number from 1 to 7 (got {answers.get('realism')!r})")
    for key, question in ABCD_QUESTIONS.items():
        if answers.get(key) is None:
            problems.append(f"answer “{question}”")
        elif answers.get(key) not in ABCD_ANSWERS:
            problems.append(f"{question} must be one of {', '.join(ABCD_ANSWERS)} (got {answers.get(key)!r})")
        clean[key] = answers.get(key)
    comment = answers.get("comment") or ""
    if not isinstance(comment, str):
        problems.append("the comment must be text")
    elif len(comment) > MAX_COMMENT:
        problems.append(f"shorten the comment to at most {MAX_COMMENT} characters")
    clean["comment"] = comment
    if problems:
        raise ReviewError("; ".join(problems))
    return clean


def save_rating(store: ReviewStore, study_name: str, username: str, image_id: str, answers: dict, seconds: float | None) -> int:
    """Save (or change) the reviewer's rating of one image; every save is also kept in the history.

    Returns the rating's revision (1 for a first answer)."""
    study_id, reviewer, _ = _enrolment(store, study_name, username)
    clean = validate_answers(answers)
    if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
        raise ReviewError(f"seconds must be a non-negative number, not {seconds!r}")
    columns = ("call", "realism", *ABCD_QUESTIONS, "comment")
    values = [clean[c] for c in columns]
    now = utc_now()
    with store.write() as db:
        assigned = db.execute(
            "SELECT 1 FROM assignments WHERE study_id = ? AND reviewer_id = ? AND image_id = ?", [study_id, reviewer, image_id]
        ).fetchone()
        if assigned is None:
            raise ReviewError(f"image {image_id!r} is not one of {username!r}'s images in study {study_name!r}")
        revision = db.execute(
            f"INSERT INTO ratings (study_id, reviewer_id, image_id, {', '.join(columns)}, seconds, revision, created_at, updated_at)"
            f" VALUES (?, ?, ?, {', '.join('?' * len(columns))}, ?, 1, ?, ?)"
            " ON CONFLICT (reviewer_id, image_id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in (*columns, "seconds", "updated_at"))
            + ", revision = ratings.revision + 1 RETURNING revision",
            [study_id, reviewer, image_id, *values, seconds, now, now],
        ).fetchone()[0]
        db.execute(
            f"INSERT INTO rating_history (study_id, reviewer_id, image_id, {', '.join(columns)}, seconds, revision, saved_at)"
            f" VALUES (?, ?, ?, {', '.join('?' * len(columns))}, ?, ?, ?)",
            [study_id, reviewer, image_id, *values, seconds, revision, now],
        )
    return revision
