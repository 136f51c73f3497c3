"""The critical test's pieces: a split as biased as public data, the oracle, skin-type reweighting, frozen features
computed once, and the counterfactual tone audit — on phantoms (every label known) and on the Fitzpatrick17k copy."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from fairskin_core.downstream.biased_split import SplitError, biased_split
from fairskin_core.downstream.data import DownstreamDataError, load_experiment_data, load_image_set
from fairskin_core.downstream.experiment import run_experiment
from fairskin_core.downstream.report import build_report
from fairskin_core.downstream.settings import ExperimentSettings, TrainingBudget
from fairskin_core.downstream.tone_audit import audit, tone_copies
from fairskin_core.downstream.train import skin_type_weights
from fairskin_core.importers import import_dataset
from fairskin_core.manifest import Manifest, read_manifest, write_manifest
from fairskin_core.phantoms.dataset import write_phantom_dataset

from .conftest import real_sample

TINY = TrainingBudget(steps=30, batch_size=16, eval_every=10)


@pytest.fixture(scope="module")
def fitzpatrick17k(tmp_path_factory) -> tuple[Manifest, dict[str, str]]:
    """The shared copy imported (a manifest) and its near-duplicate groups."""
    folder = real_sample("fitzpatrick17k_256px")
    out = tmp_path_factory.mktemp("f17k") / "imported.csv"
    import_dataset("fitzpatrick17k", folder / "fitzpatrick17k.csv", folder / "images", out, strict=True)
    pairs = pd.read_csv(folder / "near_duplicates_dhash.csv", dtype=str)
    return read_manifest(out), dict(zip(pairs["md5hash"], pairs["group"], strict=True))


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory) -> dict[str, Path]:
    """HAM10000-like training, DDI-like test, and an oracle: other phantoms of types V–VI only (32 px)."""
    root = tmp_path_factory.mktemp("critical")
    sets = {"train": write_phantom_dataset(root / "ham", n=240, preset="ham10000", size=32, seed=21),
            "test": write_phantom_dataset(root / "ddi", n=160, preset="ddi", size=32, seed=22)}
    pool = read_manifest(write_phantom_dataset(root / "pool", n=120, preset="ddi", size=32, seed=23))
    table = pool.relocated_table(root)
    sets["oracle"] = root / "oracle.csv"
    write_manifest(table[table["fst"].astype(float) >= 5], sets["oracle"])
    return sets


def test_the_fitzpatrick17k_split_is_biased_keeps_pairs_together_and_is_drawn_from_its_seed(fitzpatrick17k):
    table, pairs = fitzpatrick17k[0].table, fitzpatrick17k[1]
    split = biased_split(table, seed=0, duplicate_groups=pairs)
    fst = table["fst"].astype(int)
    training = split.isin(["train", "val"])
    assert set(split) == {"train", "val", "test", "oracle", ""}
    assert 0.045 <= (fst[training] >= 5).mean() <= 0.055  # as few dark-skin images as HAM10000 / ISIC
    assert 0.03 <= (fst[split == "val"] >= 5).mean() <= 0.07  # validation from the same biased population
    assert (fst[split == "oracle"] >= 5).all() and (fst[split == ""] <= 4).all()
    test_dark, test_light = int(((split == "test") & (fst >= 5)).sum()), int(((split == "test") & (fst <= 4)).sum())
    assert test_dark > 300 and abs(test_dark - test_light) <= 2
    assert (split == "oracle").sum() > 200
    by_pair = pd.DataFrame({"group": table["image_id"].map(pairs), "split": split}).dropna()
    used = by_pair[by_pair["split"] != ""]  # "": the I–IV half of a pair whose V–VI half the oracle adds, used nowhere
    assert len(by_pair) >= 40 and (used.groupby("group")["split"].nunique() == 1).all()
    assert biased_split(table, seed=0, duplicate_groups=pairs).equals(split)
    assert not biased_split(table, seed=1, duplicate_groups=pairs).equals(split)


def test_a_set_without_annotated_skin_types_or_without_dark_skin_cannot_be_split(phantoms):
    table = read_manifest(phantoms["train"]).table
    estimated = table.assign(fst_source=np.where(np.arange(len(table)) == 7, "ita", table["fst_source"]))
    with pytest.raises(SplitError, match=r"1 of 240 rows have no annotated skin type \(first: CSV line 9, .*fst_source 'ita'"):
        biased_split(estimated)
    with pytest.raises(SplitError, match="none of the .* rows is of skin type V or VI"):
        biased_split(table[table["fst"].astype(float) <= 4])


def test_skin_type_reweighting_weighs_each_group_alike_and_refuses_what_it_cannot_reweigh(phantoms):
    manifest = read_manifest(phantoms["train"])
    images = load_image_set(manifest, manifest.table, "train", "malignant", (), 32)
    weights = skin_type_weights(images).numpy()
    groups = np.ceil(images.fst / 2)
    totals = [weights[groups == g].sum() for g in (1, 2, 3)]
    assert np.allclose(totals, totals[0]) and weights.mean() == pytest.approx(1.0)
    assert weights[groups == 3].min() > 5 * weights[groups == 1].max()  # few V–VI images, each weighing much more
    untyped = images.subset(np.arange(len(images)), "train")
    untyped.fst = np.full(len(images), np.nan)
    with pytest.raises(DownstreamDataError, match="no training image has one"):
        skin_type_weights(untyped)
    light = images.subset(np.flatnonzero(images.fst <= 4), "train")
    with pytest.raises(DownstreamDataError, match="no FST V–VI image"):
        skin_type_weights(light)


def test_the_oracle_may_add_real_images_only_and_never_a_test_image(phantoms, tmp_path):
    synthetic_oracle = tmp_path / "oracle-synthetic.csv"
    table = read_manifest(phantoms["oracle"]).relocated_table(tmp_path)
    write_manifest(table.assign(source="synthetic", model_id="m", model_hash="h", seed=1, scheduler="ddim", steps=10, guidance=1.0),
                   synthetic_oracle)
    refused = r"40 row\(s\) of the oracle set have source synthetic.*only real or phantom.*adds back real images only"
    with pytest.raises(DownstreamDataError, match=refused):
        load_experiment_data(phantoms["train"], phantoms["test"], oracle_manifest=synthetic_oracle, size=32, test_split="")
    with pytest.raises(DownstreamDataError, match="test image.*also seen in training"):
        load_experiment_data(phantoms["train"], phantoms["test"], oracle_manifest=phantoms["test"], size=32, test_split="")
    data = load_experiment_data(phantoms["train"], phantoms["test"], oracle_manifest=phantoms["oracle"], size=32, test_split="")
    assert len(data.oracle) == len(table) and (data.oracle.fst >= 5).all()
    assert not set(data.oracle.image_id) & set(data.test.image_id)


def _settings(phantoms, **changes) -> ExperimentSettings:
    base = {"train": str(phantoms["train"]), "test": str(phantoms["test"]), "oracle": str(phantoms["oracle"]), "test_split": "",
            "strategies": ("real-only", "skin-type-reweighted", "colour-augment", "oracle"), "seeds": 2, "size": 32, "budget": TINY,
            "n_boot": 200, "tone_audit": 4}
    return ExperimentSettings(**{**base, **changes})


def test_frozen_features_the_oracle_gap_and_the_tone_audit_are_reproduced_from_the_same_seed(phantoms):
    settings = _settings(phantoms)
    assert settings.classifier == "efficientnet-lite0"
    first, again = run_experiment(settings), run_experiment(settings)
    for strategy in settings.strategies:
        assert np.array_equal(first.probabilities[strategy], again.probabilities[strategy])
    assert not np.array_equal(first.probabilities["real-only"][0], first.probabilities["real-only"][1])  # seeds differ
    report, by_group = build_report(first)
    report_again, by_group_again = build_report(again)
    assert by_group.equals(by_group_again)
    for key in ("verdict", "oracle_gap", "tone_audit", "comparisons"):
        assert report[key] == report_again[key], key
    assert set(report["oracle_gap"]) == {"skin-type-reweighted", "colour-augment"}
    for gap in report["oracle_gap"].values():
        assert gap["n"] > 0 and gap["n_positive"] > 0
        for name in ("auroc", "sensitivity", "tpr"):
            assert gap[name]["fraction"] is not None or gap[name]["reason"]
    assert all(r["validation_auroc"] is not None for r in report["runs"])
    assert report["data"]["oracle"]["n"] == len(read_manifest(phantoms["oracle"]).table)
    assert all(c["n"] > 0 for c in report["comparisons"]["oracle"].values())
    assert report["tone_audit"]["images"] > 0 and set(report["tone_audit"]["models"]) == set(settings.strategies)


def test_a_test_set_without_dark_skin_leaves_every_dark_skin_figure_not_computable_with_the_reason(phantoms, tmp_path):
    light = tmp_path / "light.csv"
    table = read_manifest(phantoms["test"]).relocated_table(tmp_path)
    write_manifest(table[table["fst"].astype(float) <= 4], light)
    report, _ = build_report(run_experiment(_settings(phantoms, test=str(light), seeds=1, tone_audit=0,
                                                      strategies=("real-only", "oracle"))))
    judged = report["verdict"]["oracle"]
    assert judged["criteria"][0]["status"] == judged["clinical"]["status"] == "not computable"
    assert "FST V-VI: 0 malignant and 0 benign test images" in judged["criteria"][0]["detail"]
    assert report["oracle_gap"] == {}  # only the oracle itself was run: there is no other arm to measure against it


def test_the_tone_audit_finds_no_flip_in_a_tone_blind_classifier_and_many_in_one_keyed_on_tone(fitzpatrick17k):
    manifest = fitzpatrick17k[0]
    images = load_image_set(manifest, manifest.table.groupby("fst").head(6), "test", "malignant", (), 96)
    copies = tone_copies(images, per_type=6, seed=0)
    assert sorted(np.unique(copies.source_fst).tolist()) == [1, 2, 3, 4, 5, 6]

    def tone_blind(images) -> np.ndarray:  # decides by the lesion's identity alone, whatever the skin around it
        return np.array([zlib.crc32(str(i).encode()) % 1000 / 1000 for i in images.image_id])

    def tone_keyed(images) -> np.ndarray:  # calls darker images malignant
        return 1 - images.pixels.float().mean(dim=(1, 2, 3)).numpy() / 255

    for score, flips_expected in ((tone_blind, False), (tone_keyed, True)):
        original = score(images.subset(copies.rows, "test"))[None, :]
        thresholds = np.array([np.median(original)])
        found = audit(copies, original, {t: score(c)[None, :] for t, c in copies.copies.items()}, thresholds)
        if not flips_expected:
            assert all(v["flip_rate"] == 0 and v["mean_abs_change"] == 0 for v in found.values()), found
        else:
            assert found["I"]["to"]["VI"]["flip_rate"] >= 0.5 and found["I"]["to"]["VI"]["mean_change"] > 0.1, found
            assert found["VI"]["to"]["I"]["mean_change"] < -0.03 and found["VI"]["flip_rate"] > 0, found  # lighter: less "malignant"
    moved = copies.copies[6].pixels[torch.as_tensor(np.flatnonzero(copies.moved[6]))].float().mean()
    assert moved < images.subset(copies.rows[copies.moved[6]], "test").pixels.float().mean()  # moved to VI: darker
