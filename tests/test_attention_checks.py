"""Hidden attention and consistency checks: repeats far apart, gold-standard images, answers kept out of every statistic."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from app.review_page import served_image
from fairskin_core.manifest import read_manifest, write_manifest
from fairskin_core.phantoms.dataset import write_phantom_dataset
from review_data.attention_checks import reader_checks
from review_data.export import check_answers_table, export_study, ratings_table
from review_data.session import ReviewError, item_at, progress, save_cannot_assess, save_rating
from review_data.stats import study_report
from review_data.store import ReviewStore
from review_data.study import StudyError, add_reviewer, close_study, create_study, get_study
from review_data.study_markdown import checks_text, created_text

ANSWERS = {"call": "real", "realism": 5, "abcd_asymmetry": "yes", "abcd_border": "no", "abcd_colour": "unsure", "abcd_diameter": "yes"}
N_PER_ARM, N_REPEATS, N_GOLD = 10, 3, 4


@pytest.fixture(scope="module")
def arms(tmp_path_factory):
    """Real and synthetic arms, and a gold-standard manifest: phantoms (obviously synthetic) and rows whose source is real."""
    root = tmp_path_factory.mktemp("arms")
    real = write_phantom_dataset(root / "real", n=40, preset="ham10000", size=72, seed=0, workers=1)
    synthetic = write_phantom_dataset(root / "synthetic", n=40, preset="balanced", size=64, seed=1, workers=1)
    gold = read_manifest(write_phantom_dataset(root / "gold", n=6, preset="balanced", size=80, seed=9, workers=1))
    gold.table.loc[gold.table.index[:3], "source"] = "real"  # known real ones too
    write_manifest(gold.table, root / "gold" / "known.csv")
    return real, synthetic, root / "gold" / "known.csv"


@pytest.fixture
def store(tmp_path):
    return ReviewStore(tmp_path / "review.db")


@pytest.fixture
def checked(store, arms, tmp_path):
    real, synthetic, gold = arms
    create_study(store, tmp_path / "studies", "checked", real, synthetic, n_per_arm=N_PER_ARM, seed=4, n_repeats=N_REPEATS,
                 gold_manifest=gold, n_gold=N_GOLD)
    for reviewer in ("ana", "ben"):
        add_reviewer(store, "checked", reviewer, f"password-{reviewer}")
    return "checked"


def sequence(store, reviewer: str) -> list:
    return store.db.execute(
        "SELECT q.position, q.slot, q.image_id, q.file, k.kind, k.repeat_of, k.truth FROM review_sequence q"
        " JOIN accounts a ON a.id = q.reviewer_id LEFT JOIN check_images k ON k.id = q.image_id WHERE a.username = ?"
        " ORDER BY q.position", [reviewer]).fetchall()


def test_checks_are_hidden_in_each_reviewers_sequence_with_repeats_far_from_their_first_showing(store, checked, tmp_path):
    study = get_study(store, checked)
    assert (study.n_repeats, study.n_gold) == (N_REPEATS, N_GOLD)
    for reviewer in ("ana", "ben"):
        rows = sequence(store, reviewer)
        assert [row["position"] for row in rows] == list(range(2 * N_PER_ARM + N_REPEATS + N_GOLD))  # one sequence, no gap
        assert Counter(row["kind"] for row in rows if row["slot"] == "check") == {"repeat": N_REPEATS, "gold": N_GOLD}
        assert progress(store, checked, reviewer) == (0, len(rows), 0)  # the reviewer sees checks as images like any other
        study_positions = {row["image_id"]: i for i, row in enumerate(r for r in rows if r["slot"] == "study")}
        for row in rows:
            if row["kind"] == "repeat":  # at least half the study's images between the two showings
                first = next(r["position"] for r in rows if r["image_id"] == row["repeat_of"])
                between = sum(1 for r in rows if r["slot"] == "study" and min(first, row["position"]) < r["position"]
                              < max(first, row["position"]))
                assert between >= N_PER_ARM, (first, row["position"])
                original = study.folder / next(r["file"] for r in rows if r["image_id"] == row["repeat_of"])
                copy = study.folder / row["file"]
                assert copy.name != original.name and np.array_equal(np.asarray(Image.open(copy)), np.asarray(Image.open(original)))
                # served under names of their own, though the pixels are the same: the page cannot give the repeat away
                assert served_image(copy, tmp_path / "served")[0] != served_image(original, tmp_path / "served")[0]
            elif row["kind"] == "gold":
                assert Image.open(study.folder / row["file"]).size == (study.image_size, study.image_size)
        assert len(study_positions) == 2 * N_PER_ARM
    truths = Counter(tuple(row) for row in store.db.execute("SELECT kind, truth FROM check_images"))
    assert truths[("repeat", "real")] + truths[("repeat", "synthetic")] == N_REPEATS
    assert abs(truths[("repeat", "real")] - truths[("repeat", "synthetic")]) <= 1  # repeats balanced between the arms
    assert store.db.execute("SELECT count(*) FROM study_images WHERE id IN (SELECT id FROM check_images)").fetchone()[0] == 0


def test_check_answers_are_kept_apart_and_give_each_readers_test_retest_and_gold_accuracy(store, checked, tmp_path):
    for reviewer in ("ana", "ben"):
        for row in sequence(store, reviewer):
            if reviewer == "ben" and row["kind"] == "gold":
                call = row["truth"]  # ben answers every gold-standard image right, ana calls everything real
            else:
                call = "real" if reviewer == "ana" else ("synthetic" if row["kind"] == "repeat" else "real")
            realism = 2 if row["kind"] == "repeat" else 5
            if reviewer == "ana" and row["kind"] == "gold" and row["position"] == max(
                    r["position"] for r in sequence(store, "ana") if r["kind"] == "gold"):
                save_cannot_assess(store, checked, reviewer, row["image_id"], "too dark", 3.0)
                continue
            save_rating(store, checked, reviewer, row["image_id"], {**ANSWERS, "call": call, "realism": realism}, 2.0)
    total = 2 * N_PER_ARM + N_REPEATS + N_GOLD
    assert progress(store, checked, "ana") == (total, total, total)
    ratings = ratings_table(store, checked)
    assert len(ratings) == 2 * 2 * N_PER_ARM  # study images only: no check is in any statistic
    assert study_report(ratings)["n_ratings"] == 2 * 2 * N_PER_ARM
    assert store.db.execute("SELECT count(*) FROM rating_history").fetchone()[0] == 2 * 2 * N_PER_ARM
    assert store.db.execute("SELECT count(*) FROM cannot_assess").fetchone()[0] == 0

    answers = check_answers_table(store, checked)
    assert Counter(answers["reviewer"]) == {"ana": N_REPEATS + N_GOLD, "ben": N_REPEATS + N_GOLD}
    readers = reader_checks(answers).set_index("reviewer")
    gold_truths = Counter(answers.loc[(answers["reviewer"] == "ana") & (answers["kind"] == "gold") & answers["call"].notna(), "truth"])
    assert readers.loc["ana", "repeats_answered"] == N_REPEATS and readers.loc["ana", "repeat_call_agreement"] == 1.0
    assert readers.loc["ana", "repeat_realism_mean_abs_difference"] == 3.0 and readers.loc["ana", "repeat_realism_within_1"] == 0.0
    assert readers.loc["ana", "gold_answered"] == N_GOLD - 1 and readers.loc["ana", "gold_correct"] == gold_truths["real"]
    assert readers.loc["ana", "checks_set_aside"] == 1
    # ben called each repeat synthetic and its first showing by the image's arm: agreement is the share of synthetic originals
    ben = answers[(answers["reviewer"] == "ben") & (answers["kind"] == "repeat")]
    assert readers.loc["ben", "repeat_call_agreement"] == pytest.approx((ben["first_call"] == "synthetic").mean())
    assert readers.loc["ben", "gold_accuracy"] == 1.0 and readers.loc["ben", "flag"] == ""
    assert (readers.loc["ana", "flag"] != "") == (readers.loc["ana", "gold_accuracy"] < 0.75)

    written = {path.name: path for path in export_study(store, checked, tmp_path / "export")}
    assert {"checks.csv", "reader_checks.csv"} <= set(written)
    summary = written["study_summary.csv"].read_text()
    assert f"attention checks,repeats_and_gold_per_reader,{N_REPEATS + N_GOLD}" in summary

    close_study(store, checked)
    gold_image = next(row["image_id"] for row in sequence(store, "ana") if row["kind"] == "gold")
    with pytest.raises(ReviewError, match="closed"):
        save_rating(store, checked, "ana", gold_image, ANSWERS, 1.0)


def test_the_admin_is_told_of_the_checks_when_the_study_is_created_and_on_the_dashboard(store, checked):
    study = get_study(store, checked)
    assert (f"Hidden among them for each reviewer: {N_REPEATS} repeated and {N_GOLD} gold-standard images, never counted in the "
            "statistics.") in created_text(study)
    head = f"**Attention and consistency** ({N_REPEATS} repeated and {N_GOLD} gold-standard images hidden in each reviewer's"
    assert checks_text(N_REPEATS, N_GOLD, reader_checks(check_answers_table(store, checked))).startswith(head)
    assert checks_text(N_REPEATS, N_GOLD, pd.DataFrame()).endswith(": no check answered yet.")
    assert checks_text(0, 0, pd.DataFrame()).startswith("*Attention and consistency:* this study has no hidden checks")
    typed = pd.DataFrame({"reviewer": ["Dr **x**"], "repeats_answered": [2], "repeat_call_agreement": [0.5],
                          "repeat_realism_within_1": [float("nan")], "repeat_realism_mean_abs_difference": [1.25],
                          "gold_correct": [1], "gold_answered": [4], "flag": ["missed 3 of 4 gold-standard images: possibly inattentive"]})
    row = checks_text(N_REPEATS, N_GOLD, typed).splitlines()[-1]  # the reviewer's name shown as typed
    assert [cell.strip() for cell in row.strip("|").split("|")] == [
        "Dr \\*\\*x\\*\\*", "2", "50%", "—", "1.25", "1 of 4", "**missed 3 of 4 gold-standard images: possibly inattentive**"]


def test_a_check_is_rated_as_any_image_on_the_page_and_a_set_aside_one_can_be_rated_later(store, checked):
    repeat = next(row for row in sequence(store, "ana") if row["kind"] == "repeat")
    save_cannot_assess(store, checked, "ana", repeat["image_id"], "glare")
    assert item_at(store, checked, "ana", repeat["position"]).answers == {"cannot_assess": True, "comment": "glare"}
    assert save_rating(store, checked, "ana", repeat["image_id"], ANSWERS, 1.0) == 1
    assert save_rating(store, checked, "ana", repeat["image_id"], {**ANSWERS, "realism": 3}, 1.0) == 2
    assert item_at(store, checked, "ana", repeat["position"]).answers["realism"] == 3
    assert store.db.execute("SELECT count(*) FROM check_cannot_assess").fetchone()[0] == 0
    with pytest.raises(ReviewError, match="has your rating already"):
        save_cannot_assess(store, checked, "ana", repeat["image_id"])
    with pytest.raises(ReviewError, match="is not one of 'ana''s images"):
        save_rating(store, checked, "ana", "0" * 24, ANSWERS, 1.0)


@pytest.mark.parametrize("request_, words", [
    ({"n_repeats": 11}, "11 repeated images is more than half the study's 20 images: ask for at most 10"),
    ({"n_gold": 2}, "gold-standard images need both a manifest of them"),
    ({"gold": True}, "gold-standard images need both a manifest of them"),
    ({"gold": True, "n_gold": 7}, "only 6 gold-standard images are not already in the study, fewer than the 7 asked for"),
    ({"n_repeats": -1}, "the number of repeated images must be a whole number, 0 or more, not -1"),
])
def test_impossible_checks_are_refused_and_nothing_is_created(store, arms, tmp_path, request_, words):
    real, synthetic, gold = arms
    with pytest.raises(StudyError, match=words):
        create_study(store, tmp_path / "studies", "refused", real, synthetic, n_per_arm=N_PER_ARM, seed=4,
                     n_repeats=request_.get("n_repeats", 0), gold_manifest=gold if request_.get("gold") else None,
                     n_gold=request_.get("n_gold", 0))
    assert not (tmp_path / "studies" / "refused").exists()
    assert store.db.execute("SELECT count(*) FROM studies").fetchone()[0] == 0


def test_a_study_without_checks_keeps_the_sequence_it_always_had(store, arms, tmp_path):
    real, synthetic, _ = arms
    create_study(store, tmp_path / "studies", "plain", real, synthetic, n_per_arm=N_PER_ARM, seed=4)
    add_reviewer(store, "plain", "ana", "password-ana")
    rows = sequence(store, "ana")
    assert [row["position"] for row in rows] == list(range(2 * N_PER_ARM)) and {row["slot"] for row in rows} == {"study"}
    assert get_study(store, "plain").n_repeats == 0 and check_answers_table(store, "plain").empty
