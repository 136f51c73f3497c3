"""How sure each call is: asked where a study asks it, the call with it as the 6-point score an MRMC analysis reads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from review_data.answers import call_score
from review_data.export import export_study, ratings_table
from review_data.session import ReviewError, item_at, practice_item_at, save_practice_rating, save_rating
from review_data.stats import study_report
from review_data.store import ReviewStore
from review_data.study import add_reviewer, create_study, get_study
from review_data.study_markdown import headline

from .review_helpers import phantom_arms

ANSWERS = {"call": "real", "realism": 5, "abcd_asymmetry": "yes", "abcd_border": "no", "abcd_colour": "unsure", "abcd_diameter": "yes"}
READERS = ("ana", "ben", "cy")


@pytest.fixture(scope="module")
def arms(tmp_path_factory):
    return phantom_arms(tmp_path_factory.mktemp("arms"))


@pytest.fixture
def store(tmp_path):
    return ReviewStore(tmp_path / "review.db")


def test_the_six_point_score_orders_the_call_and_its_certainty():
    assert [call_score("real", c) for c in (3, 2, 1)] + [call_score("synthetic", c) for c in (1, 2, 3)] == [1, 2, 3, 4, 5, 6]


def test_a_study_that_asks_needs_the_certainty_and_one_that_does_not_refuses_it(store, arms, tmp_path):
    create_study(store, tmp_path / "studies", "sure", *arms, n_per_arm=3, seed=2, ask_certainty=True, n_practice=2)
    create_study(store, tmp_path / "studies", "plain", *arms, n_per_arm=3, seed=2)
    assert get_study(store, "sure").asks_certainty and not get_study(store, "plain").asks_certainty
    for study in ("sure", "plain"):
        add_reviewer(store, study, "ana", "password-ana" if study == "sure" else None)
    image = item_at(store, "sure", "ana", 0).image_id
    with pytest.raises(ReviewError, match="pick how sure you are of the call: a guess, likely or very sure"):
        save_rating(store, "sure", "ana", image, ANSWERS, 1.0)
    with pytest.raises(ReviewError, match=r"certainty must be 1 \(a guess\), 2 \(likely\) or 3 \(very sure\), not '4'"):
        save_rating(store, "sure", "ana", image, {**ANSWERS, "certainty": "4"}, 1.0)
    assert save_rating(store, "sure", "ana", image, {**ANSWERS, "certainty": "3"}, 1.0) == 1  # a radio button's value
    assert item_at(store, "sure", "ana", 0).answers["certainty"] == 3 and item_at(store, "sure", "ana", 0).asks_certainty
    practice = practice_item_at(store, "sure", "ana", 0)
    with pytest.raises(ReviewError, match="pick how sure"):
        save_practice_rating(store, "sure", "ana", practice.image_id, ANSWERS, 1.0)
    save_practice_rating(store, "sure", "ana", practice.image_id, {**ANSWERS, "certainty": 1}, 1.0)
    other = item_at(store, "plain", "ana", 0).image_id
    with pytest.raises(ReviewError, match="this study does not ask how sure you are of the call"):
        save_rating(store, "plain", "ana", other, {**ANSWERS, "certainty": 2}, 1.0)
    save_rating(store, "plain", "ana", other, ANSWERS, 1.0)
    assert [row[0] for row in store.db.execute("SELECT certainty FROM rating_history ORDER BY id")] == [3, None]
    table = ratings_table(store, "sure")
    assert list(table["certainty"]) == [3] and list(table["call_score"]) == [call_score("real", 3)] == [1]
    assert ratings_table(store, "plain")["call_score"].isna().all()


def test_the_certainty_scores_give_an_mrmc_auc_the_export_and_imrmc_file_carry(store, arms, tmp_path):
    """Each reader's AUC of the 6-point score is sklearn's; the reader average and its interval reach study_summary.csv, and
    ratings.imrmc scores each reading by it."""
    create_study(store, tmp_path / "studies", "scored", *arms, n_per_arm=8, seed=5, ask_certainty=True)
    rng = np.random.default_rng(1)
    for reader in READERS:
        add_reviewer(store, "scored", reader, f"password-{reader}")
        for position in range(16):
            item = item_at(store, "scored", reader, position)
            truth = store.db.execute("SELECT source FROM study_images WHERE id = ?", [item.image_id]).fetchone()[0]
            call = truth if rng.random() < 0.7 else ("real" if truth == "synthetic" else "synthetic")
            save_rating(store, "scored", reader, item.image_id, {**ANSWERS, "call": call, "certainty": int(rng.integers(1, 4))}, 2.0)
    ratings = ratings_table(store, "scored")
    report = study_report(ratings, n_boot=50)
    mrmc = report["mrmc_auc_certainty"]
    by_reader = {r: roc_auc_score(g["source"] == "synthetic", g["call_score"]) for r, g in ratings.groupby("reviewer")}
    assert {row["reviewer"]: pytest.approx(row["auc"]) for row in mrmc["reader_aucs"]} == by_reader
    assert mrmc["estimate"] == pytest.approx(np.mean(list(by_reader.values())))
    assert mrmc["ci_low"] < mrmc["estimate"] < mrmc["ci_high"] and mrmc["n_readers"] == 3
    assert "mrmc_auc_certainty" not in study_report(ratings.drop(columns="call_score"), n_boot=50)
    assert f"by the call and its certainty (MRMC): {mrmc['estimate']:.2f} (95% CI {mrmc['ci_low']:.2f}" in headline(report)

    written = {path.name: path for path in export_study(store, "scored", tmp_path / "export")}
    summary = pd.read_csv(written["study_summary.csv"]).set_index("metric")
    assert summary.loc["certainty_auc_mrmc", "estimate"] == pytest.approx(mrmc["estimate"])
    lines = written["ratings.imrmc"].read_text().splitlines()
    assert "Score: the call with its certainty, 1 (real, very sure) to 6 (synthetic, very sure)." in lines[1]
    key = pd.read_csv(written["imrmc_key.csv"])
    number = {(kind, identity): n for kind, identity, n in zip(key["kind"], key["id"], key["number"], strict=True)}
    readings = lines[lines.index("BEGIN DATA:") + 1:]
    scores = {(int(r), int(c)): int(s) for r, c, m, s in (line.split(",") for line in readings) if r != "-1"}
    assert scores == {(number[("reader", r)], number[("case", i)]): int(s)
                      for r, i, s in zip(ratings["reviewer"], ratings["image"], ratings["call_score"], strict=True)}
