"""The review study's database schema, as sqlite-utils migrations.

Tables are STRICT and carry CHECK constraints, so the database itself refuses an out-of-range
answer even if a bug lets one through; rating_history is append-only (triggers refuse UPDATE
and DELETE), so no answer a reviewer ever saved is lost. Practice answers have tables of their
own, and a closed study's answers can no longer change: the database refuses it (m003).
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("fairskin.review")

_ANSWERS = """
    call TEXT NOT NULL CHECK (call IN ('real', 'synthetic')),
    realism INTEGER NOT NULL CHECK (realism BETWEEN 1 AND 7),
    abcd_asymmetry TEXT NOT NULL CHECK (abcd_asymmetry IN ('yes', 'no', 'unsure')),
    abcd_border TEXT NOT NULL CHECK (abcd_border IN ('yes', 'no', 'unsure')),
    abcd_colour TEXT NOT NULL CHECK (abcd_colour IN ('yes', 'no', 'unsure')),
    abcd_diameter TEXT NOT NULL CHECK (abcd_diameter IN ('yes', 'no', 'unsure')),
    comment TEXT NOT NULL DEFAULT '' CHECK (length(comment) <= 2000),
    seconds REAL CHECK (seconds IS NULL OR seconds >= 0)
"""


# What a practice or check image is (study_images, m001, spells the same with comments): its manifest id and row, skin
# type, diagnosis and re-rendered file.
_IMAGE_COLUMNS = """image_id TEXT NOT NULL,
            manifest_row TEXT NOT NULL,
            fst INTEGER CHECK (fst IS NULL OR fst BETWEEN 1 AND 6),
            fst_group TEXT NOT NULL,
            diagnosis TEXT NOT NULL,
            file TEXT NOT NULL"""


def _answers_table(name: str, images: str, assignments: str) -> str:
    """A table of reviewers' answers, one row per reviewer and image of ``images`` assigned to them in ``assignments``."""
    return f"""
        CREATE TABLE {name} (
            study_id INTEGER NOT NULL REFERENCES studies(id),
            reviewer_id INTEGER NOT NULL REFERENCES accounts(id),
            image_id TEXT NOT NULL REFERENCES {images}(id),
            {_ANSWERS},
            revision INTEGER NOT NULL CHECK (revision >= 1),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (reviewer_id, image_id),
            FOREIGN KEY (study_id, reviewer_id, image_id) REFERENCES {assignments}(study_id, reviewer_id, image_id)
        ) STRICT
    """


def _set_aside_table(name: str, assignments: str) -> str:
    """A table of images set aside as "cannot assess" (a reason optional), of those assigned in ``assignments``."""
    return f"""
        CREATE TABLE {name} (
            study_id INTEGER NOT NULL REFERENCES studies(id),
            reviewer_id INTEGER NOT NULL REFERENCES accounts(id),
            image_id TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '' CHECK (length(reason) <= 2000),
            seconds REAL CHECK (seconds IS NULL OR seconds >= 0),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (reviewer_id, image_id),
            FOREIGN KEY (study_id, reviewer_id, image_id) REFERENCES {assignments}(study_id, reviewer_id, image_id)
        ) STRICT
    """


@migrations()
def m001_initial(db: Database) -> None:
    # One statement at a time: executescript would commit the migration's transaction.
    for statement in _M001:
        db.execute(statement)


_M001 = [
    """
        CREATE TABLE studies (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            seed INTEGER NOT NULL,
            n_per_arm INTEGER NOT NULL CHECK (n_per_arm > 0),
            image_size INTEGER NOT NULL CHECK (image_size > 0),
            real_manifest TEXT NOT NULL,
            real_manifest_sha256 TEXT NOT NULL,
            synthetic_manifest TEXT NOT NULL,
            synthetic_manifest_sha256 TEXT NOT NULL,
            folder TEXT NOT NULL
        ) STRICT
    """,
    """
        CREATE TABLE study_images (
            id TEXT PRIMARY KEY,  -- random and opaque: the only name a reviewer's browser sees
            study_id INTEGER NOT NULL REFERENCES studies(id),
            source TEXT NOT NULL CHECK (source IN ('real', 'synthetic')),
            image_id TEXT NOT NULL,  -- the id in its manifest
            manifest_row TEXT NOT NULL,  -- that manifest row, as JSON
            fst INTEGER CHECK (fst IS NULL OR fst BETWEEN 1 AND 6),
            fst_group TEXT NOT NULL,
            diagnosis TEXT NOT NULL,
            file TEXT NOT NULL,  -- the re-rendered image, relative to the study folder
            UNIQUE (study_id, source, image_id)
        ) STRICT
    """,
    """
        CREATE TABLE accounts (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('admin', 'reviewer')),
            created_at TEXT NOT NULL
        ) STRICT
    """,
    """
        CREATE TABLE study_reviewers (
            study_id INTEGER NOT NULL REFERENCES studies(id),
            reviewer_id INTEGER NOT NULL REFERENCES accounts(id),
            order_seed INTEGER NOT NULL,  -- the reviewer's own random order comes from this
            added_at TEXT NOT NULL,
            PRIMARY KEY (study_id, reviewer_id)
        ) STRICT
    """,
    """
        CREATE TABLE assignments (
            study_id INTEGER NOT NULL,
            reviewer_id INTEGER NOT NULL,
            position INTEGER NOT NULL CHECK (position >= 0),
            image_id TEXT NOT NULL REFERENCES study_images(id),
            PRIMARY KEY (study_id, reviewer_id, position),
            UNIQUE (study_id, reviewer_id, image_id),
            FOREIGN KEY (study_id, reviewer_id) REFERENCES study_reviewers(study_id, reviewer_id)
        ) STRICT
    """,
    _answers_table("ratings", "study_images", "assignments"),
    f"""
        CREATE TABLE rating_history (
            id INTEGER PRIMARY KEY,
            study_id INTEGER NOT NULL REFERENCES studies(id),
            reviewer_id INTEGER NOT NULL REFERENCES accounts(id),
            image_id TEXT NOT NULL REFERENCES study_images(id),
            {_ANSWERS},
            revision INTEGER NOT NULL,
            saved_at TEXT NOT NULL
        ) STRICT
    """,
    "CREATE INDEX rating_history_by_rating ON rating_history (reviewer_id, image_id)",
    """CREATE TRIGGER rating_history_no_update BEFORE UPDATE ON rating_history
           BEGIN SELECT RAISE(ABORT, 'rating_history is append-only'); END""",
    """CREATE TRIGGER rating_history_no_delete BEFORE DELETE ON rating_history
           BEGIN SELECT RAISE(ABORT, 'rating_history is append-only'); END""",
]


@migrations()
def m002_study_matching(db: Database) -> None:
    """How each study's arms were matched: real dermoscopy often has no skin types (diagnosis alone)."""
    db.execute("ALTER TABLE studies ADD COLUMN matched_on TEXT NOT NULL DEFAULT 'fst' "
               "CHECK (matched_on IN ('fst', 'fst_group', 'diagnosis'))")
    db.execute("ALTER TABLE studies ADD COLUMN matching_note TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE studies ADD COLUMN fst_estimated INTEGER NOT NULL DEFAULT 0 CHECK (fst_estimated IN (0, 1))")


@migrations()
def m003_practice_and_management(db: Database) -> None:
    """Practice images, closed studies and disabled accounts, all additive: no stored row changes.

    Practice images and answers live in tables of their own, so no statistic, export of ratings
    or dashboard, all of which read ``study_images`` and ``ratings``, can ever count them. Once a
    study is closed, triggers refuse any new, changed or deleted answer of it, and its reopening.
    """
    for statement in _M003:
        db.execute(statement)


@migrations()
def m004_sessions_ended(db: Database) -> None:
    """When an account's sign-ins last stopped counting (a new password, a disabling): Unix seconds, NULL for never.

    A browser signed in before that moment is signed out at its next request, whichever process made the change."""
    db.execute("ALTER TABLE accounts ADD COLUMN sessions_ended_at REAL")


@migrations()
def m005_native_sizes(db: Database) -> None:
    """Each arm's native image sizes (short side: smallest, median, largest) as JSON; '' for studies made before.

    Every image is shown at the study's one size; how far each arm was resampled to get there is
    what a reader of the results needs to judge whether sharpness could tell the arms apart."""
    db.execute("ALTER TABLE studies ADD COLUMN native_sizes TEXT NOT NULL DEFAULT ''")


@migrations()
def m006_blinding_check(db: Database) -> None:
    """The check made at creation of whether trivial features tell the arms apart (`arm_separability`), as JSON; '' for
    studies made before. Additive: no stored row changes."""
    db.execute("ALTER TABLE studies ADD COLUMN blinding_check TEXT NOT NULL DEFAULT ''")


@migrations()
def m007_cannot_assess(db: Database) -> None:
    """Images a reviewer could not judge ("cannot assess", a reason optional): counted apart from the ratings, never in
    a statistic of them. Additive; a closed study's rows can no longer change, as its ratings cannot."""
    db.execute(_set_aside_table("cannot_assess", "assignments"))
    for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
        db.execute(_refuse_when_closed("cannot_assess", event, row))


@migrations()
def m008_attention_checks(db: Database) -> None:
    """Attention and consistency checks hidden among a study's images (`attention_checks`): repeats of its own images and
    gold-standard images of known truth, each reviewer's at positions of their sequence that no study image holds. Their
    answers have tables of their own, so no statistic of the ratings can count them; `review_sequence` is what a reviewer
    goes through, both kinds in one order. Additive: no stored row changes."""
    for statement in _M008:
        db.execute(statement)
    for table in ("check_ratings", "check_cannot_assess"):
        for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
            db.execute(_refuse_when_closed(table, event, row))


_SEQUENCE_ANSWERS = "r.call, r.realism, r.abcd_asymmetry, r.abcd_border, r.abcd_colour, r.abcd_diameter, r.comment, x.reason AS set_aside"


def _review_sequence(answers: str) -> str:
    """Every position of a reviewer's sequence with its saved ``answers``: 'study' images and hidden 'check' images alike."""
    return f"""
        CREATE VIEW review_sequence AS
        SELECT a.study_id, a.reviewer_id, a.position, a.image_id, i.file, 'study' AS slot,
               {answers}
        FROM assignments a JOIN study_images i ON i.id = a.image_id
        LEFT JOIN ratings r ON r.reviewer_id = a.reviewer_id AND r.image_id = a.image_id
        LEFT JOIN cannot_assess x ON x.reviewer_id = a.reviewer_id AND x.image_id = a.image_id
        UNION ALL
        SELECT a.study_id, a.reviewer_id, a.position, a.image_id, i.file, 'check' AS slot,
               {answers}
        FROM check_assignments a JOIN check_images i ON i.id = a.image_id
        LEFT JOIN check_ratings r ON r.reviewer_id = a.reviewer_id AND r.image_id = a.image_id
        LEFT JOIN check_cannot_assess x ON x.reviewer_id = a.reviewer_id AND x.image_id = a.image_id
    """
_M008 = [
    f"""
        CREATE TABLE check_images (
            id TEXT PRIMARY KEY,  -- random and opaque, like study_images.id
            study_id INTEGER NOT NULL REFERENCES studies(id),
            kind TEXT NOT NULL CHECK (kind IN ('repeat', 'gold')),
            repeat_of TEXT REFERENCES study_images(id),  -- the study image a repeat shows again
            truth TEXT NOT NULL CHECK (truth IN ('real', 'synthetic')),
            {_IMAGE_COLUMNS},
            CHECK ((kind = 'repeat') = (repeat_of IS NOT NULL))
        ) STRICT
    """,
    """
        CREATE TABLE check_assignments (
            study_id INTEGER NOT NULL,
            reviewer_id INTEGER NOT NULL,
            position INTEGER NOT NULL CHECK (position >= 0),  -- in the same sequence as assignments.position
            image_id TEXT NOT NULL REFERENCES check_images(id),
            PRIMARY KEY (study_id, reviewer_id, image_id),
            FOREIGN KEY (study_id, reviewer_id) REFERENCES study_reviewers(study_id, reviewer_id)
        ) STRICT
    """,
    _answers_table("check_ratings", "check_images", "check_assignments"),
    _set_aside_table("check_cannot_assess", "check_assignments"),
    "CREATE INDEX check_assignments_by_position ON check_assignments (study_id, reviewer_id, position)",
    _review_sequence(_SEQUENCE_ANSWERS),
]


@migrations()
def m009_reviewer_groups(db: Database) -> None:
    """Each enrolled reviewer's group in the study (e.g. dermatologist, resident), '' where none was given: the statistics
    are also given per group. Additive: no stored row changes."""
    db.execute("ALTER TABLE study_reviewers ADD COLUMN reviewer_group TEXT NOT NULL DEFAULT '' CHECK (length(reviewer_group) <= 64)")


@migrations()
def m010_certainty(db: Database) -> None:
    """How sure a reviewer is of each call (1 a guess, 2 likely, 3 very sure), for studies that ask (``asks_certainty``):
    with the call it makes the 6-point score an MRMC analysis reads. NULL in every row saved before, and wherever a study
    does not ask. Additive: no stored row changes."""
    db.execute("ALTER TABLE studies ADD COLUMN asks_certainty INTEGER NOT NULL DEFAULT 0 CHECK (asks_certainty IN (0, 1))")
    for table in ("ratings", "rating_history", "practice_ratings", "check_ratings"):
        db.execute(f"ALTER TABLE {table} ADD COLUMN certainty INTEGER CHECK (certainty IS NULL OR certainty BETWEEN 1 AND 3)")
    db.execute("DROP VIEW review_sequence")
    db.execute(_review_sequence(f"{_SEQUENCE_ANSWERS}, r.certainty"))


def _refuse_when_closed(table: str, event: str, row: str) -> str:
    """A trigger refusing ``event`` on ``table`` when the study of its ``row`` (NEW or OLD) is closed."""
    return (f"CREATE TRIGGER {table}_closed_study_no_{event.lower()}_{row.lower()} BEFORE {event} ON {table}"
            f" WHEN (SELECT closed_at FROM studies WHERE id = {row}.study_id) IS NOT NULL"
            " BEGIN SELECT RAISE(ABORT, 'this study is closed: its answers can no longer change'); END")


_M003 = [
    "ALTER TABLE studies ADD COLUMN closed_at TEXT",  # NULL while reviewers may still answer
    "ALTER TABLE accounts ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))",
    f"""
        CREATE TABLE practice_images (
            id TEXT PRIMARY KEY,  -- random and opaque, like study_images.id
            study_id INTEGER NOT NULL REFERENCES studies(id),
            source TEXT NOT NULL CHECK (source IN ('real', 'synthetic')),  -- the answer shown after each one
            {_IMAGE_COLUMNS},
            UNIQUE (study_id, source, image_id)
        ) STRICT
    """,
    f"""
        CREATE TABLE practice_ratings (
            study_id INTEGER NOT NULL REFERENCES studies(id),
            reviewer_id INTEGER NOT NULL REFERENCES accounts(id),
            image_id TEXT NOT NULL REFERENCES practice_images(id),
            {_ANSWERS},
            revision INTEGER NOT NULL CHECK (revision >= 1),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (reviewer_id, image_id),
            FOREIGN KEY (study_id, reviewer_id) REFERENCES study_reviewers(study_id, reviewer_id)
        ) STRICT
    """,
    # An UPDATE could move a row into a closed study or out of one: both are refused.
    *(_refuse_when_closed(table, event, row) for table in ("ratings", "practice_ratings")
      for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD"))),
    _refuse_when_closed("rating_history", "INSERT", "NEW"),  # UPDATE and DELETE are refused always
    """CREATE TRIGGER studies_closed_stay_closed BEFORE UPDATE OF closed_at ON studies
           WHEN OLD.closed_at IS NOT NULL AND NEW.closed_at IS NOT OLD.closed_at
           BEGIN SELECT RAISE(ABORT, 'a closed study cannot be reopened'); END""",
]
