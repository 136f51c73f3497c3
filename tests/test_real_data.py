"""Every verb and tab on real dermoscopy: manifests without skin types, images on a read-only disk.

Phantoms always carry every label; HAM10000 and ISIC 2017 carry no skin type and live in
`../shared/real_samples`, which CI mounts read-only. Each test imports straight from there
into a temporary folder and checks that nothing was written beside the images.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections import Counter
from pathlib import Path

import gradio as gr
import pandas as pd
import pytest

from app.cli import main as fairskin
from app.data_tab import MeasuredManifests, browse_page, image_detail, measure_manifest, open_manifest
from fairskin_core.analysis.pipeline import analyse_manifest
from fairskin_core.importers import import_dataset
from fairskin_core.manifest import ManifestError, read_manifest, write_manifest
from fairskin_core.measurement_cache import MeasurementCache
from fairskin_core.metrics.report import build_report, summary_lines, write_report
from fairskin_core.skin_type.manifest_estimates import skin_type_table
from fairskin_core.workspace import Workspace
from review_data.export import export_study
from review_data.store import ReviewStore
from review_data.study import StudyError, create_study, get_study

from .conftest import REAL_SAMPLES, demo_credentials, real_sample, running_app, sign_in
from .test_cli import folder_state

FST_GROUPS_AND_TYPES = ("I", "II", "III", "IV", "V", "VI", "I-II", "III-IV", "V-VI")


@pytest.fixture(scope="module")
def ham(tmp_path_factory) -> Path:
    """HAM10000 ×70 imported from the shared copy into a project folder of its own."""
    sample = real_sample("ham10000_sample70")
    before = folder_state(sample)
    report = import_dataset("ham10000", sample / "HAM10000_metadata_sample.csv", sample / "images",
                            tmp_path_factory.mktemp("project") / "ham.csv")
    assert report.images_imported == 70 and folder_state(sample) == before
    return report.manifest


@pytest.fixture(scope="module")
def isic(tmp_path_factory) -> Path:
    """The whole official ISIC 2017 split (2,000 / 150 / 600), imported from the shared copies."""
    train, val_test = real_sample("isic2017_256px_train"), real_sample("isic2017_256px_val_test")
    metadata = [train / "ISIC-2017_Training_Part3_GroundTruth.csv", val_test / "ISIC-2017_Validation_Part3_GroundTruth.csv",
                val_test / "ISIC-2017_Test_v2_Part3_GroundTruth.csv"]
    out = tmp_path_factory.mktemp("project") / "isic2017.csv"
    return import_dataset("isic2017", metadata, [train / "images", val_test / "images"], out).manifest


@pytest.fixture(scope="module")
def ham_measured(ham, tmp_path_factory) -> Path:
    """HAM10000's skin tone and learned skin types measured once for the module into a measurement cache (the file a workspace
    keeps for the command line and the app, by content): the tests that measure them start from a copy."""
    cache = MeasurementCache(tmp_path_factory.mktemp("measured") / "measurements.sqlite")
    manifest = read_manifest(ham)
    analyse_manifest(manifest, cache=cache)
    skin_type_table(manifest, "learned", cache=cache)
    return cache.path


def measured_workspace(home: Path, measured: Path) -> Workspace:
    """Workspace ``home``, its measurement cache a copy of the cache file ``measured``."""
    workspace = Workspace(home)
    with contextlib.closing(sqlite3.connect(measured)) as source, \
            contextlib.closing(sqlite3.connect(MeasurementCache.of_workspace(workspace).path)) as copy:
        source.backup(copy)
    return workspace


@pytest.fixture(scope="module")
def synthetic_arm(embedded_defaults) -> Path:
    """The shipped default model's 72 images (2 per skin type × diagnosis), as the demo uses them."""
    return embedded_defaults[1] / "manifest.csv"


def test_data_tab_counts_filters_and_shows_real_images_without_skin_types(ham):
    shown = open_manifest(str(ham))
    heatmap, diagnoses = shown["heatmap"], shown["diagnosis_filter"]["choices"]
    assert shown["message"] == "" and shown["type_filter"]["choices"] == ["unknown"]
    assert list(heatmap.data[0].y) == ["unknown"] and sum(heatmap.data[0].z[0]) == 70
    assert len(diagnoses) == 7 and shown["status"].startswith("70 of 70 images match")
    assert len(shown["gallery"]) == 48 and all(caption.startswith("unknown · ") for _, caption in shown["gallery"])
    shown = browse_page(str(ham), ["unknown"], ["melanoma"], 1)
    ids = shown["image_ids"]
    assert len(ids) == 10 and shown["status"].startswith("10 of 70")
    assert browse_page(str(ham), ["I"], diagnoses, 1)["image_ids"] == []
    shown = image_detail(str(ham), ids, gr.SelectData(None, {"index": 0, "value": None}))
    assert shown["detail"].shape[:2] == (450, 600) and "annotated: unknown" in shown["analysis"]
    assert dict(zip(shown["metadata"]["field"], shown["metadata"]["value"], strict=True))["dataset"] == "ham10000"


def test_skin_tone_of_a_whole_real_manifest_is_a_distribution_with_every_refusal_counted(ham, ham_measured, tmp_path):
    shown = measure_manifest(str(ham), MeasuredManifests(measured_workspace(tmp_path / "home", ham_measured)))
    figure, types, summary = shown["ita"], shown["types"], shown["agreement"]
    table = pd.read_csv(ham)
    assert "No annotated skin types" in summary and "images: 70; skin tone measured:" in summary
    measured = sum(figure.data[0].y)
    assert f"skin tone measured: {measured} (ok {measured}" in summary
    assert measured + int(summary.split("not skin-coloured ")[1].split(",")[0]) <= len(table)
    assert sum(types.data[0].z[0]) == measured  # one estimated type per measured image


def test_ita_command_reports_the_distribution_and_writes_estimated_types(ham, tmp_path, capsys):
    out = tmp_path / "ita.csv"
    estimated = tmp_path / "other" / "estimated.csv"
    assert fairskin(["ita", str(ham), "--out", str(out), "--report", "--estimated-manifest", str(estimated)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.with_suffix(".report.json").read_text())["kinyanjui"]
    distribution = report["distribution"]
    per_image = pd.read_csv(out)
    assert distribution["statuses"] == per_image["status"].value_counts().to_dict()  # every image counted, by reason
    assert sum(distribution["statuses"].values()) == 70 and distribution["n_measured"] == (per_image["status"] == "ok").sum()
    assert sum(distribution["estimated_types"].values()) == distribution["n_measured"]
    assert sum(distribution["ita_histogram"]["counts"]) == distribution["n_measured"]
    assert report["n_annotated"] == 0 and "agreement not computable" in printed
    estimated = read_manifest(tmp_path / "other" / "estimated.csv", check_files="decode").table  # images still found from elsewhere
    ok = per_image.set_index("image_id")["status"] == "ok"
    assert (estimated.set_index("image_id")["fst_source"] == "ita").equals(ok.reindex(estimated["image_id"]).rename("fst_source"))
    assert estimated["fst"].notna().sum() == distribution["n_measured"]


@pytest.mark.slow
def test_study_with_real_images_without_skin_types_matches_on_diagnosis_and_says_so(ham, synthetic_arm, ham_measured, tmp_path):
    """HAM10000's light skin against the model's images of every type: the tones differ, and the admin must say to go ahead."""
    store = ReviewStore(tmp_path / "review.db")
    cache = MeasurementCache.of_workspace(measured_workspace(tmp_path / "home", ham_measured))
    with pytest.raises(StudyError, match="differ strongly: reviewers may tell the arms apart by skin tone alone") as refused:
        create_study(store, tmp_path / "studies", "ham-vs-model", ham, synthetic_arm, n_per_arm=30, seed=3, cache=cache)
    assert "real: I " in str(refused.value) and "synthetic: I " in str(refused.value)
    assert not (tmp_path / "studies" / "ham-vs-model").exists()
    study = create_study(store, tmp_path / "studies", "ham-vs-model", ham, synthetic_arm, n_per_arm=30, seed=3, accept_tone_difference=True,
                         cache=cache)
    assert study.matching.on == "diagnosis" and "the real manifest records no skin types" in study.design
    assert any("measured by the learned estimator, real: I" in warning for warning in study.warnings)
    rows = store.db.execute("SELECT source, diagnosis FROM study_images").fetchall()
    by_arm = {arm: Counter(d for s, d in rows if s == arm) for arm in ("real", "synthetic")}
    assert by_arm["real"] == by_arm["synthetic"] and sum(by_arm["real"].values()) == 30
    assert "actinic_keratosis" not in by_arm["real"]  # the model makes none: no stratum to match
    files = export_study(store, "ham-vs-model", tmp_path / "export")
    summary = pd.read_csv(files[2])
    assert summary.iloc[0][["group_kind", "group", "metric"]].tolist() == ["study", "design", "matched_on"]
    assert "matched on diagnosis alone" in summary.iloc[0]["note"]


def test_study_of_isic2017_against_the_default_model_and_its_export(isic, synthetic_arm, tmp_path):
    store = ReviewStore(tmp_path / "review.db")
    study = create_study(store, tmp_path / "studies", "isic-vs-model", isic, synthetic_arm, n_per_arm=30, seed=1,
                         accept_tone_difference=True)
    assert study.matching.on == "diagnosis" and study.image_size == 64  # the generated images' side: no arm upsampled
    assert study.native_sizes["synthetic"] == {"min": 64, "median": 64.0, "max": 64} and study.native_sizes["real"]["min"] > 128
    assert any("The arms' native sizes differ" in warning and "the real arm was shrunk" in warning for warning in study.warnings)
    rows = store.db.execute("SELECT source, diagnosis, fst, manifest_row FROM study_images").fetchall()
    real_diagnoses = Counter(r["diagnosis"] for r in rows if r["source"] == "real")
    assert real_diagnoses == Counter(r["diagnosis"] for r in rows if r["source"] == "synthetic")
    assert {json.loads(r["manifest_row"])["dataset"] for r in rows if r["source"] == "real"} == {"isic2017"}
    assert all(r["fst"] is None for r in rows if r["source"] == "real")
    files = export_study(store, "isic-vs-model", tmp_path / "export")
    assert [f.name for f in files] == ["ratings.csv", "reviewer_summary.csv", "study_summary.csv"]
    summary = pd.read_csv(files[2])
    assert "matched on diagnosis alone: the real manifest records no skin types" == summary.iloc[0]["note"]
    display = summary[summary["group"] == "display"].iloc[0]
    assert display["estimate"] == 64 and display["note"].startswith("every image shown at 64 × 64 px")
    assert "real arm natively" in display["note"] and "synthetic arm natively 64–64 px" in display["note"]


def test_study_on_estimated_skin_types_records_them_as_estimates(ham, synthetic_arm, ham_measured, tmp_path):
    store = ReviewStore(tmp_path / "review.db")
    study = create_study(store, tmp_path / "studies", "estimated", ham, synthetic_arm, n_per_arm=4, seed=0, estimate_fst=True,
                         cache=MeasurementCache.of_workspace(measured_workspace(tmp_path / "home", ham_measured)))
    assert study.matching.on == "fst" and study.fst_estimated and "estimated from the image" in get_study(store, "estimated").design
    assert any("measured by the learned estimator" in warning for warning in study.warnings)  # the tones, side by side
    assert "images have no exact skin type and are left out" in study.matching.note  # the unmeasurable ones
    rows = store.db.execute("SELECT source, fst, diagnosis, manifest_row FROM study_images").fetchall()
    real = [r for r in rows if r["source"] == "real"]
    assert all(json.loads(r["manifest_row"])["fst_source"] == "learned" and r["fst"] is not None for r in real)
    assert all(0 < json.loads(r["manifest_row"])["fst_confidence"] <= 1 for r in real)
    strata = {arm: Counter((r["fst"], r["diagnosis"]) for r in rows if r["source"] == arm) for arm in ("real", "synthetic")}
    assert strata["real"] == strata["synthetic"]


def test_app_roots_refuse_a_real_manifest_whose_images_lie_elsewhere(ham, tmp_path):
    with pytest.raises(ManifestError, match="outside the folders this app may read"):
        read_manifest(ham, allowed_roots=[ham.parent])
    shown = open_manifest(str(ham), [ham.parent])
    assert "image_root" in shown["message"] and "--data-root" in shown["message"] and list(shown) == ["message"]
    assert open_manifest(str(ham), [ham.parent, real_sample("ham10000_sample70")])["message"] == ""


@pytest.mark.slow
def test_metrics_between_isic_halves_and_against_generated_images(isic, synthetic_arm, workspace_caches, tmp_path):
    """Overall figures and the real floor computed; every per-type figure says why it cannot be. The reports share the worker's
    workspace caches, as `fairskin metrics` would: the half measured in the first is read back in the second."""
    table = read_manifest(isic).table
    val = table[table["split"] == "val"].sample(48, random_state=0)
    halves = [write_manifest(val.iloc[i::2], tmp_path / f"half{i}.csv") for i in (0, 1)]
    report, tables = build_report(*halves, **workspace_caches)
    groups = {g["group"]: g for g in report["groups"]}
    assert groups["overall"]["fid"] > 0 and (groups["overall"]["n_real"], groups["overall"]["n_synthetic"]) == (24, 24)
    for name in FST_GROUPS_AND_TYPES:
        assert groups[name]["fid"] is None and groups[name]["note"] == "not computable: no skin types in either set"
    assert report["real_floor"]["n_each"] == 12 and report["real_floor"]["real_vs_real"]["fid"] > 0
    lines = summary_lines(report)
    assert any(line.startswith("real floor (12 vs 12)") for line in lines) and any("FST fidelity: not computable" in line for line in lines)
    folder = write_report(report, tables, tmp_path / "report")
    assert {p.name for p in folder.iterdir()} >= {"report.json", "report.html", "groups.csv", "diversity_pairs.csv"}

    model_images = read_manifest(synthetic_arm)
    generated = model_images.relocated_table(tmp_path).query("diagnosis in ['melanoma', 'nevus', 'seborrheic_keratosis']")
    against = write_manifest(generated, tmp_path / "generated.csv")
    report, _ = build_report(halves[0], against, **workspace_caches)
    groups = {g["group"]: g for g in report["groups"]}
    assert groups["overall"]["fid"] > 0 and groups["overall"]["n_synthetic"] == len(generated) == 36
    assert groups["VI"]["note"] == "not computable: no skin types in the real set" and groups["VI"]["n_synthetic"] == 6
    assert report["fst_fidelity"]["n_annotated"] == 36  # the generated images' requested types are still checked
    # 64 px phantom-trained model vs real
    assert report["real_floor"]["synthetic_vs_real"]["fid"] > report["real_floor"]["real_vs_real"]["fid"]


def test_generate_takes_the_diagnosis_mix_of_a_real_manifest(ham, tmp_path, capsys):
    assert fairskin(["generate", "--n", "4", "--diagnosis-mix-from", str(ham), "--out", str(tmp_path / "gen")]) == 1
    error = capsys.readouterr().err
    assert "actinic_keratosis (10 images)" in error and "--diagnosis-mix" in error  # the model makes no AK: said, not skipped
    no_ak = read_manifest(ham).table.query("diagnosis != 'actinic_keratosis'")
    subset = write_manifest(no_ak, tmp_path / "no-ak.csv")
    assert fairskin(["generate", "--n", "6", "--diagnosis-mix-from", str(subset), "--out", str(tmp_path / "gen"), "--steps", "4"]) == 0
    generated = read_manifest(tmp_path / "gen" / "manifest.csv").table
    assert sorted(generated["diagnosis"]) == sorted(set(no_ak["diagnosis"]))  # 6 diagnoses, 10 images each: one of each


@pytest.mark.slow
@pytest.mark.browser
def test_data_tab_in_a_browser_opens_real_manifests_from_a_read_only_dataset(browser, ham, isic, synthetic_arm, ham_measured,
                                                                              started_home, tmp_path):
    """A researcher's first move, as an admin allowed the dataset and project folders sees it; at 1366 × 768 also the skin-type
    audit with a correction, and a study on estimated types that shows both arms' measured tones side by side. HAM10000's
    images were measured before (the server's workspace holds their measurements); the default model's the server measures."""
    expect = pytest.importorskip("playwright.sync_api").expect
    shots = Path(os.environ.get("FAIRSKIN_SCREENSHOTS", tmp_path))
    roots = [REAL_SAMPLES, ham.parent, isic.parent]
    measured_workspace(started_home, ham_measured)
    with running_app(started_home, *(arg for root in roots for arg in ("--data-root", str(root)))) as app:
        for width, height in ((1366, 768), (1920, 1080)):
            page = browser.new_page(viewport={"width": width, "height": height})
            sign_in(page, app.admin_url, "admin", demo_credentials(started_home)["admin"])
            status, box = page.locator("#data-status"), page.get_by_label("Manifest (CSV or Parquet)")
            status.get_by_text("600 of 600 images match").wait_for(timeout=60_000)

            box.fill(str(ham))
            page.get_by_role("button", name="Open").click()
            status.get_by_text("70 of 70 images match").wait_for(timeout=60_000)
            expect(page.locator("#data-message")).to_have_text("")
            expect(page.locator("#fst-filter")).to_contain_text("unknown")
            assert page.locator("#data-gallery img").count() == 48
            page.locator("#diagnosis-filter").get_by_label("melanoma", exact=True).uncheck()
            status.get_by_text("60 of 70 images match").wait_for(timeout=30_000)
            page.locator("#data-gallery button").first.click()
            expect(page.locator("#image-analysis")).to_contain_text("annotated: unknown", timeout=30_000)
            expect(page.locator("#image-metadata")).to_contain_text("ham10000")
            if width == 1366:
                page.get_by_text("Skin colour (ITA) of the whole manifest").click()
                page.locator("#measure-manifest").click()
                expect(page.locator("#manifest-agreement")).to_contain_text("No annotated skin types", timeout=120_000)
                expect(page.locator("#manifest-agreement")).to_contain_text("images: 70; skin tone measured:")
                audit_and_correct_a_skin_type(page, expect, shots)
                create_a_study_on_estimated_types(page, expect, ham, started_home / synthetic_arm.relative_to(os.environ["FAIRSKIN_HOME"]),
                                                  shots)
                page.get_by_role("tab", name="Data").click()
            page.screenshot(path=str(shots / f"real-ham-{width}x{height}.png"))

            box.fill(str(isic))
            page.get_by_role("button", name="Open").click()
            status.get_by_text("2750 of 2750 images match").wait_for(timeout=120_000)
            expect(page.locator("#data-heatmap")).to_contain_text("2750 images", timeout=30_000)
            expect(page.get_by_text("70 images measured")).to_have_count(0)  # HAM's figures are gone
            expect(page.locator("#image-analysis").get_by_text("annotated")).to_have_count(0)
            page.locator("#data-gallery button").first.click()
            expect(page.locator("#image-metadata")).to_contain_text("isic2017", timeout=30_000)
            page.screenshot(path=str(shots / f"real-isic2017-{width}x{height}.png"), full_page=True)
            page.close()


def audit_and_correct_a_skin_type(page, expect, shots: Path) -> None:
    """Estimate every HAM10000 image's type, look at the type-I group, and correct one image to type III."""
    page.get_by_text("Skin type of every image: estimate, audit, correct").click()
    page.locator("#estimate-skin-types").click()
    expect(page.locator("#skin-type-summary")).to_contain_text("images given a type by the learned method", timeout=120_000)
    page.locator("#audit-type").get_by_label("I", exact=True).check()
    expect(page.locator("#audit-message")).to_contain_text("images in I", timeout=30_000)
    assert page.locator("#audit-gallery img").count() > 10
    page.locator("#audit-gallery button").first.click()
    expect(page.locator("#audit-chosen")).to_contain_text("estimated I (learned", timeout=30_000)
    page.locator("#audit-correct-type").get_by_label("III", exact=True).check()
    page.locator("#audit-save").click()
    expect(page.locator("#audit-message")).to_contain_text("is now type III (fst_source corrected; was I (learned", timeout=60_000)
    page.screenshot(path=str(shots / "real-ham-audit-1366x768.png"), full_page=True)


def create_a_study_on_estimated_types(page, expect, real: Path, synthetic: Path, shots: Path) -> None:
    page.get_by_role("tab", name="Studies").click()
    page.get_by_text("Create a study", exact=True).click()
    page.locator("#study-name input, #study-name textarea").fill("ham-estimated")
    page.locator("#study-real input, #study-real textarea").fill(str(real))
    page.locator("#study-synthetic input, #study-synthetic textarea").fill(str(synthetic))
    page.get_by_label("Images per arm").fill("6")
    page.locator("#study-estimate-fst input").check()
    page.get_by_role("button", name="Create study").click()
    message = page.locator("#create-message")
    expect(message).to_contain_text("Created study ham-estimated", timeout=120_000)
    expect(message).to_contain_text("measured by the learned estimator, real: I")
    expect(message).to_contain_text("synthetic: I")
    expect(message).to_contain_text("The arms' native sizes differ 7.0× (median short side: real 450 px, synthetic 64 px)")
    table = message.locator("table")  # the two arms side by side
    expect(table.locator("th")).to_have_text(["measured type", "real", "synthetic"])
    expect(table.locator("tbody tr")).to_have_count(7)
    message.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "study-tones-1366x768.png"))


def test_tone_transfer_of_real_jpegs_without_skin_types_as_the_generate_tab_runs_it(ham, tmp_path):
    from app.generate_tab import run_gallery
    from fairskin_core.finetune.random_pipeline import build_random_stable_diffusion
    from fairskin_core.generation.run_folders import GenerationRequest, load_request_backend, new_run, run_request

    sample = real_sample("ham10000_sample70")
    before = folder_state(sample)
    ids = tuple(read_manifest(ham, check_files="none").table["image_id"][:2])
    request = GenerationRequest(fst=6, stable_diffusion=str(build_random_stable_diffusion(tmp_path / "sd")), source_manifest=str(ham),
                                source_ids=ids, steps=4, scheduler="dpm-solver++").check()
    folder = new_run(request, tmp_path / "runs")
    backend = load_request_backend(request)
    with pytest.raises(ManifestError, match="outside the folders this app may read"):  # the app's rule on where images may be
        run_request(request, folder, backend, allowed_roots=[ham.parent])
    run_request(request, folder, backend, allowed_roots=[ham.parent, sample])
    table = read_manifest(folder / "manifest.csv", check_files="decode").table
    assert [row.split(";")[2] for row in table["source_image"]] == [f"image_id={i}" for i in ids]
    assert set(table["fst"]) == {6} and table["fst_source"].eq("requested").all()
    shown = run_gallery(folder, roots=[ham.parent, sample])
    assert [image.shape[0] for image, _ in shown] == [450, 450] and all(image.shape[1] > 2 * 600 for image, _ in shown)  # side by side
    assert all(f"{i}: " in caption and "→ asked VI, got" in caption for (_, caption), i in zip(shown, ids, strict=True))
    assert folder_state(sample) == before  # nothing written beside the real images
