"""A reviewer going through a study: where they are, what they see, what they answered.

Everything is looked up by the signed-in username, never by anything the browser sends, so a
reviewer can reach only their own assignments and answers. Positions index the reviewer's own
random order (``review_sequence``: the study's images and the hidden attention checks among them,
whose answers are saved apart, as the reviewer cannot tell them from the rest); resuming starts at
the first position without an answer. An image the reviewer
cannot judge is set aside ("cannot assess", `save_cannot_assess`, a reason optional): it counts as
answered for their progress and stays out of every statistic of the ratings.

Practice images (`practice_progress`, `practice_item_at`, `save_practice_rating`) come before
the study's: their answers go to a table of their own, never to ``ratings``, and saving one
returns the truth to show the reviewer. A closed study takes no answer of either kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlite_utils import Database

from .answers import ABCD_ANSWERS, ABCD_QUESTIONS, CALLS, CERTAINTY, MAX_COMMENT, REALISM
from .store import ReviewStore, utc_now
from .study import get_study

CLOSED = "This study is closed: answers can no longer be changed. Thank you for taking part."
PRACTICE_ORDER = 1  # the practice order's own random stream from the reviewer's order seed
COLUMNS = ("call", "realism", *ABCD_QUESTIONS, "comment", "certainty")
CANNOT_ASSESS = "cannot_assess"  # the key of a set-aside image's answers (`item_at`)


class ReviewError(ValueError):
    """A refused review action (not enrolled, unknown image, bad answer, closed study); says which and why."""


@dataclass(frozen=True)
class ReviewItem:
    """One position of a reviewer's order, with their saved answers if any."""

    position: int
    total: int
    rated: int
    image_id: str
    file: Path
    answers: dict | None
    following: Path | None = None  # the next position's file, for the page to fetch ahead
    asks_certainty: bool = False  # the study asks how sure each call is


def reviewer_studies(store: ReviewStore, username: str) -> list[str]:
    rows = store.db.execute(
        "SELECT s.name FROM studies s JOIN study_reviewers r ON r.study_id = s.id"
        " JOIN accounts a ON a.id = r.reviewer_id WHERE a.username = ? ORDER BY s.id",
        [username],
    )
    return [row["name"] for row in rows]


def resume_study(store: ReviewStore, username: str) -> str | None:
    """The study a reviewer's page opens at: of their open studies with an image still unrated, the one they rated last
    (else the first they joined); None when they have none, so that they choose."""
    row = store.db.execute(
        "SELECT s.name FROM studies s JOIN study_reviewers r ON r.study_id = s.id JOIN accounts a ON a.id = r.reviewer_id"
        " WHERE a.username = ? AND s.closed_at IS NULL AND EXISTS (SELECT 1 FROM review_sequence x"
        "  WHERE x.study_id = s.id AND x.reviewer_id = r.reviewer_id AND x.call IS NULL AND x.set_aside IS NULL)"
        " ORDER BY (SELECT max(g.updated_at) FROM ratings g WHERE g.study_id = s.id AND g.reviewer_id = r.reviewer_id) DESC NULLS LAST,"
        " s.id LIMIT 1",
        [username],
    ).fetchone()
    return row["name"] if row else None


def _enrolment(store: ReviewStore, study_name: str, username: str) -> tuple[int, int, Path]:
    """(study id, reviewer id, the study's image folder): one query, as every review event asks for it."""
    row = store.db.execute(
        "SELECT s.id AS study_id, s.folder, a.id AS reviewer_id FROM studies s"
        " JOIN study_reviewers r ON r.study_id = s.id JOIN accounts a ON a.id = r.reviewer_id"
        " WHERE s.name = ? AND a.username = ?",
        [study_name, username],
    ).fetchone()
    if row is None:
        get_study(store, study_name)  # says so if there is no such study
        raise ReviewError(f"{username!r} is not a reviewer of study {study_name!r}")
    return row["study_id"], row["reviewer_id"], Path(row["folder"])


def _progress(db: Database, study_id: int, reviewer: int) -> tuple[int, int, int]:
    row = db.execute(
        "SELECT count(*) AS total, count(call) + count(set_aside) AS answered,"
        " min(CASE WHEN call IS NULL AND set_aside IS NULL THEN position END) AS first_open"
        " FROM review_sequence WHERE study_id = ? AND reviewer_id = ?",
        [study_id, reviewer],
    ).fetchone()
    first_open = row["first_open"] if row["first_open"] is not None else row["total"]
    return row["answered"], row["total"], first_open


def progress(store: ReviewStore, study_name: str, username: str) -> tuple[int, int, int]:
    """(images answered — rated, or set aside as "cannot assess" —, images in total, first position with neither: total
    when done)."""
    study_id, reviewer, _ = _enrolment(store, study_name, username)
    return _progress(store.db, study_id, reviewer)


def item_at(store: ReviewStore, study_name: str, username: str, position: int) -> ReviewItem:
    """The image at ``position`` of the reviewer's order, with their saved answers (and the next image's file)."""
    study_id, reviewer, folder = _enrolment(store, study_name, username)
    rated, total, _ = _progress(store.db, study_id, reviewer)
    if not 0 <= position < total:
        raise ReviewError(f"position {position} is outside this study's 0-{total - 1}")
    row, *after = store.db.execute(
        f"SELECT image_id, file, {', '.join(COLUMNS)}, set_aside FROM review_sequence"
        " WHERE study_id = ? AND reviewer_id = ? AND position IN (?, ?) ORDER BY position",
        [study_id, reviewer, position, position + 1],
    ).fetchall()
    answers = {k: row[k] for k in COLUMNS} if row["call"] is not None else None
    if row["set_aside"] is not None:  # set aside: no answers, the reason where the comment goes
        answers = {CANNOT_ASSESS: True, "comment": row["set_aside"]}
    following = folder / after[0]["file"] if after else None
    return ReviewItem(position, total, rated, row["image_id"], folder / row["file"], answers, following,
                      _asks_certainty(store.db, study_id))


def _level(value, levels) -> int | None:
    """One of ``levels`` (realism 1-7, certainty 1-3) from an int, a whole float or a digit string (a radio button's value);
    else None."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in levels:
        return None
    return value


def validate_answers(answers: dict, asks_certainty: bool = False) -> dict:
    """Clean answers, or a ReviewError naming every missing or out-of-range one.

    A missing answer is what a reviewer can leave out, so it is asked for in their words; a
    value outside the choices can only come from code, so it is named. The certainty of the call
    is asked for where the study asks it (``asks_certainty``), and refused where it does not."""
    problems, clean = [], {}
    call = answers.get("call")
    if call is None:
        problems.append("pick whether the image looks real or synthetic")
    elif call not in CALLS:
        problems.append(f"the call must be real or synthetic, not {call!r}")
    clean["call"] = call
    clean["realism"] = _level(answers.get("realism"), REALISM)
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
    certainty = answers.get("certainty")
    clean["certainty"] = _level(certainty, CERTAINTY) if certainty is not None else None
    if asks_certainty and certainty is None:
        problems.append("pick how sure you are of the call: a guess, likely or very sure")
    elif certainty is not None and not asks_certainty:
        problems.append("this study does not ask how sure you are of the call: leave the certainty out")
    elif certainty is not None and clean["certainty"] is None:
        problems.append(f"certainty must be 1 (a guess), 2 (likely) or 3 (very sure), not {certainty!r}")
    comment = answers.get("comment") or ""
    if not isinstance(comment, str):
        problems.append("the comment must be text")
    elif len(comment) > MAX_COMMENT:
        problems.append(f"shorten the comment to at most {MAX_COMMENT} characters")
    clean["comment"] = comment
    if problems:
        raise ReviewError("; ".join(problems))
    return clean


def _asks_certainty(db: Database, study_id: int) -> bool:
    return bool(db.execute("SELECT asks_certainty FROM studies WHERE id = ?", [study_id]).fetchone()[0])


def _refuse_if_closed(db: Database, study_id: int) -> bool:
    """Checked again inside each save's transaction, so a study closed a moment ago takes no more answers. Returns whether
    the study asks for the certainty of each call."""
    row = db.execute("SELECT closed_at, asks_certainty FROM studies WHERE id = ?", [study_id]).fetchone()
    if row["closed_at"] is not None:
        raise ReviewError(CLOSED)
    return bool(row["asks_certainty"])


def _checked(store: ReviewStore, study_id: int, answers: dict, seconds: float | None) -> list:
    """The answers' values in `COLUMNS` order, refused if the study is closed (said first) or an answer is wrong."""
    clean = validate_answers(answers, _refuse_if_closed(store.db, study_id))
    if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
        raise ReviewError(f"seconds must be a non-negative number, not {seconds!r}")
    return [clean[c] for c in COLUMNS]


def save_rating(store: ReviewStore, study_name: str, username: str, image_id: str, answers: dict, seconds: float | None) -> int:
    """Save (or change) the reviewer's rating of one image; every save is also kept in the history.

    Returns the rating's revision (1 for a first answer)."""
    study_id, reviewer, _ = _enrolment(store, study_name, username)
    values = _checked(store, study_id, answers, seconds)
    now = utc_now()
    with store.write() as db:
        _refuse_if_closed(db, study_id)
        ratings, set_aside = _tables(db, study_id, reviewer, image_id, username, study_name)
        revision = _upsert_answers(db, ratings, [study_id, reviewer, image_id, *values, seconds, now, now])
        db.execute(f"DELETE FROM {set_aside} WHERE reviewer_id = ? AND image_id = ?", [reviewer, image_id])  # judged after all
        if ratings == "check_ratings":  # a hidden check's answer: kept apart, in no statistic and no history of the ratings
            return revision
        db.execute(
            f"INSERT INTO rating_history (study_id, reviewer_id, image_id, {', '.join(COLUMNS)}, seconds, revision, saved_at)"
            f" VALUES (?, ?, ?, {', '.join('?' * len(COLUMNS))}, ?, ?, ?)",
            [study_id, reviewer, image_id, *values, seconds, revision, now],
        )
    return revision


def save_cannot_assess(store: ReviewStore, study_name: str, username: str, image_id: str, reason: str = "",
                       seconds: float | None = None) -> None:
    """Set an image aside as one the reviewer cannot assess (``reason`` optional): counted apart, in no statistic of the
    ratings. An image already rated keeps its rating (change that instead); a set-aside image rated later is rated."""
    study_id, reviewer, _ = _enrolment(store, study_name, username)
    _refuse_if_closed(store.db, study_id)
    reason = (reason or "").strip()
    if len(reason) > MAX_COMMENT:
        raise ReviewError(f"shorten the reason to at most {MAX_COMMENT} characters")
    if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
        raise ReviewError(f"seconds must be a non-negative number, not {seconds!r}")
    now = utc_now()
    with store.write() as db:
        _refuse_if_closed(db, study_id)
        ratings, set_aside = _tables(db, study_id, reviewer, image_id, username, study_name)
        if db.execute(f"SELECT 1 FROM {ratings} WHERE reviewer_id = ? AND image_id = ?", [reviewer, image_id]).fetchone():
            raise ReviewError("this image has your rating already: change the rating instead (a rated image is not set aside)")
        db.execute(
            f"INSERT INTO {set_aside} (study_id, reviewer_id, image_id, reason, seconds, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (reviewer_id, image_id) DO UPDATE SET reason = excluded.reason,"
            " seconds = excluded.seconds, updated_at = excluded.updated_at",
            [study_id, reviewer, image_id, reason, seconds, now, now],
        )


def _tables(db: Database, study_id: int, reviewer: int, image_id: str, username: str, study_name: str) -> tuple[str, str]:
    """Where an answer to this image of the reviewer's sequence goes: (ratings, set-aside) tables of a study image, or
    those of a hidden check (`attention_checks`); refused if the image is not in their sequence."""
    row = db.execute("SELECT slot FROM review_sequence WHERE study_id = ? AND reviewer_id = ? AND image_id = ?",
                     [study_id, reviewer, image_id]).fetchone()
    if row is None:
        raise ReviewError(f"image {image_id!r} is not one of {username!r}'s images in study {study_name!r}")
    return ("ratings", "cannot_assess") if row["slot"] == "study" else ("check_ratings", "check_cannot_assess")


def _upsert_answers(db, table: str, row: list) -> int:
    """Insert a reviewer's answers to one image into ``table`` (ratings or practice_ratings), or replace them
    with the revision counted up; ``row``: study, reviewer, image, the answers, seconds, now, now. Returns the revision."""
    return db.execute(
        f"INSERT INTO {table} (study_id, reviewer_id, image_id, {', '.join(COLUMNS)}, seconds, revision, created_at, updated_at)"
        f" VALUES (?, ?, ?, {', '.join('?' * len(COLUMNS))}, ?, 1, ?, ?)"
        " ON CONFLICT (reviewer_id, image_id) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in (*COLUMNS, "seconds", "updated_at"))
        + f", revision = {table}.revision + 1 RETURNING revision",
        row,
    ).fetchone()[0]


def _practice_images(store: ReviewStore, study_id: int, reviewer: int) -> list:
    """The study's practice images in the reviewer's own order, which follows from their stored order seed."""
    seed = store.db.execute(
        "SELECT order_seed FROM study_reviewers WHERE study_id = ? AND reviewer_id = ?", [study_id, reviewer]
    ).fetchone()["order_seed"]
    rows = store.db.execute("SELECT id, file FROM practice_images WHERE study_id = ? ORDER BY source, image_id", [study_id]).fetchall()
    return [rows[i] for i in np.random.default_rng([seed, PRACTICE_ORDER]).permutation(len(rows))]


def _practice_answered(store: ReviewStore, study_id: int, reviewer: int) -> int:
    return store.db.execute(
        "SELECT count(*) FROM practice_ratings WHERE study_id = ? AND reviewer_id = ?", [study_id, reviewer]
    ).fetchone()[0]


def practice_progress(store: ReviewStore, study_name: str, username: str) -> tuple[int, int]:
    """(practice images answered, practice images in total); (0, 0) for a study without practice."""
    study_id, reviewer, _ = _enrolment(store, study_name, username)
    total = store.db.execute("SELECT count(*) FROM practice_images WHERE study_id = ?", [study_id]).fetchone()[0]
    return _practice_answered(store, study_id, reviewer), total


def practice_item_at(store: ReviewStore, study_name: str, username: str, position: int) -> ReviewItem:
    """The practice image at ``position`` of the reviewer's practice order, with their answers if any."""
    study_id, reviewer, folder = _enrolment(store, study_name, username)
    images = _practice_images(store, study_id, reviewer)
    if not 0 <= position < len(images):
        if not images:
            raise ReviewError(f"study {study_name!r} has no practice images")
        raise ReviewError(f"practice position {position} is outside this study's 0-{len(images) - 1}")
    image = images[position]
    row = store.db.execute(
        f"SELECT {', '.join(COLUMNS)} FROM practice_ratings WHERE reviewer_id = ? AND image_id = ?", [reviewer, image["id"]]
    ).fetchone()
    answers = {k: row[k] for k in COLUMNS} if row else None
    return ReviewItem(position, len(images), _practice_answered(store, study_id, reviewer), image["id"], folder / image["file"], answers,
                      asks_certainty=_asks_certainty(store.db, study_id))


def save_practice_rating(
    store: ReviewStore, study_name: str, username: str, image_id: str, answers: dict, seconds: float | None
) -> str:
    """Save the reviewer's answers to a practice image (a new answer replaces the last) and return its truth,
    'real' or 'synthetic', to show them. Checked exactly as `save_rating`; never counted in any statistic."""
    study_id, reviewer, _ = _enrolment(store, study_name, username)
    values = _checked(store, study_id, answers, seconds)
    now = utc_now()
    with store.write() as db:
        _refuse_if_closed(db, study_id)
        truth = db.execute("SELECT source FROM practice_images WHERE id = ? AND study_id = ?", [image_id, study_id]).fetchone()
        if truth is None:
            raise ReviewError(f"image {image_id!r} is not one of the practice images of study {study_name!r}")
        _upsert_answers(db, "practice_ratings", [study_id, reviewer, image_id, *values, seconds, now, now])
    return truth["source"]
