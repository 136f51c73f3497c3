"""The review study's library: matched sampling, blinding on disk, accounts, ratings and history."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fairskin_core.manifest import ManifestError, read_manifest
from fairskin_core.phantoms.dataset import write_phantom_dataset
from review_data.accounts import AccountError, authenticate, create_account, role_of
from review_data.answers import ABCD_QUESTIONS
from review_data.export import export_study, ratings_table
from review_data.sampling import SamplingError, matched_sample, strata
from review_data.session import ReviewError, item_at, progress, save_rating
from review_data.store import ReviewStore
from review_data.study import StudyError, add_reviewer, create_study, get_study

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


@pytest.fixture
def study(store, arms, tmp_path):
    create_study(store, tmp_path / "studies", "pilot", *arms, n_per_arm=20, seed=7)
    return "pilot"


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


def test_the_same_manifest_as_both_arms_is_refused_naming_a_few_shared_images(store, arms, tmp_path):
    ids = read_manifest(arms[0]).table["image_id"]
    with pytest.raises(StudyError, match=r"96 images are in both arms") as refused:
        create_study(store, tmp_path / "studies", "twice", arms[0], arms[0], n_per_arm=96)  # every image drawn twice
    named = [image_id for image_id in ids if image_id in str(refused.value)]
    assert 1 <= len(named) <= 5 and f"and {96 - len(named)} more" in str(refused.value)
    assert "--" not in str(refused.value)  # in words, not command-line options
    assert not (tmp_path / "studies").exists()
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
        add_reviewer(store, study, "ana", "password-a")
    with pytest.raises(AccountError, match="different password"):
        add_reviewer(store, study, "ben", "not-bens-password")


def test_ratings_upsert_keep_history_and_resume(store, study):
    add_reviewer(store, study, "ana", "password-a")
    first = item_at(store, study, "ana", 0)
    assert save_rating(store, study, "ana", first.image_id, ANSWERS, 4.0) == 1
    assert save_rating(store, study, "ana", first.image_id, {**ANSWERS, "call": "synthetic", "realism": "2"}, 3.0) == 2
    second = item_at(store, study, "ana", 1)
    save_rating(store, study, "ana", second.image_id, ANSWERS, 2.0)
    assert progress(store, study, "ana") == (2, 40, 2)
    assert item_at(store, study, "ana", 0).answers == {**ANSWERS, "call": "synthetic", "realism": 2, "comment": ""}
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
    assert [f.name for f in files] == ["ratings.csv", "reviewer_summary.csv", "study_summary.csv"]
    exported = pd.read_csv(files[0])
    assert len(exported) == 6 and list(exported["comment"]) == [f"note {p}" for p in range(6)]
