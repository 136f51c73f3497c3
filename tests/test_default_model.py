"""The shipped default model: present and small, reproducible from the command line, and it follows the requested skin type."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from fairskin_core.analysis.pipeline import analyse_image
from fairskin_core.diffusion.model_folder import DEFAULT_MODEL
from fairskin_core.diffusion.pipeline import FSTDiffusionPipeline
from fairskin_core.fst import FST_TYPES
from fairskin_core.images import read_rgb
from fairskin_core.manifest import read_manifest

from .conftest import REPO, demo_credentials, running_app, sign_in


def test_the_default_model_is_shipped_small_and_measured():
    weights = DEFAULT_MODEL / "unet" / "diffusion_pytorch_model.safetensors"
    assert weights.is_file() and weights.stat().st_size <= 25 * 2**20
    card = (DEFAULT_MODEL / "model_card.md").read_text()
    assert "Not measured yet" not in card and "ITA-derived FST within ±1" in card
    for name in ("train_config.json", "training_log.csv", "mix.json", "quality.json"):
        assert (DEFAULT_MODEL / name).is_file(), name


@pytest.mark.slow
def test_generate_command_on_the_default_model_is_reproducible(tmp_path):
    env = {**os.environ, "FAIRSKIN_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}
    for run in ("first", "second"):
        result = subprocess.run([sys.executable, "-m", "app.cli", "generate", "--fst", "6", "--diagnosis", "melanoma", "--n", "8",
                                 "--seed", "0", "--steps", "5", "--out", str(tmp_path / run)],
                                env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
    first, second = (read_manifest(tmp_path / run / "manifest.csv", check_files="decode").table for run in ("first", "second"))
    assert len(first) == 8 and first.equals(second)
    assert set(first["fst"]) == {6} and set(first["model_id"]) == {"fairskin-default"}
    for path in first["image_path"]:
        assert (tmp_path / "first" / path).read_bytes() == (tmp_path / "second" / path).read_bytes()


@pytest.mark.slow
def test_stock_diffusers_loading_gives_the_images_of_fairskin_generate(tmp_path):
    """diffusers' own `from_pretrained` (inherited; none of fairskin's checks) reads the shipped folder: the CLI's images, bit for bit."""
    env = {**os.environ, "FAIRSKIN_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}
    command = ["generate", "--fst-mix", "1:1,6:1", "--diagnosis-mix", "melanoma:1,nevus:1", "--n", "2", "--seed", "3", "--steps", "4",
               "--out", str(tmp_path / "cli")]
    result = subprocess.run([sys.executable, "-m", "app.cli", *command], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    table = read_manifest(tmp_path / "cli" / "manifest.csv", check_files="decode").table
    pipeline = FSTDiffusionPipeline.from_pretrained(DEFAULT_MODEL)
    assert pipeline.vae is None and pipeline.scheduler.config.prediction_type == "v_prediction"
    images = pipeline([int(f) for f in table["fst"]], list(table["diagnosis"]), [int(s) for s in table["seed"]],
                      steps=4, guidance=3.0, scheduler="ddim")
    for path, image in zip(table["image_path"], images, strict=True):  # the same two images in the same batch as the CLI made them
        assert np.array_equal(read_rgb(tmp_path / "cli" / path), image)


@pytest.mark.slow
def test_the_requested_skin_type_moves_the_measured_ita(embedded_defaults):
    """On the demo's generated set (`embedded_defaults`: the shipped model at its demo settings, 12 images of each type, 2 of
    every diagnosis), made once for the test run."""
    demo = read_manifest(embedded_defaults[1] / "manifest.csv", check_files="none")
    means = {}
    for fst in FST_TYPES:
        paths = demo.table.loc[demo.table["fst"] == fst, "image_path"]
        assert len(paths) == 12 and demo.table.loc[paths.index, "model_id"].eq("fairskin-default").all()
        ita = np.array([np.nan if (value := analyse_image(read_rgb(demo.image_file(path))).ita) is None else value for path in paths])
        assert np.isfinite(ita).sum() >= 10, (fst, ita)  # the skin of nearly every image can be measured
        means[fst] = np.nanmean(ita)
    # Lighter requested, lighter measured: each type's mean ITA above the next darker one's.
    assert all(means[fst] > means[fst + 1] + 3 for fst in FST_TYPES[:-1]), means


@pytest.mark.slow
@pytest.mark.browser
def test_generate_tab_in_a_browser(browser, started_home):
    expect = pytest.importorskip("playwright.sync_api").expect
    with running_app(started_home) as app:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        sign_in(page, app.admin_url, "admin", demo_credentials(started_home)["admin"])
        page.get_by_role("tab", name="Generate").click()
        page.get_by_text("Sampler").click()
        page.locator("#generate-steps input").fill("3")  # the form as it opens (8 images of VI melanoma, seed 0), fewer steps
        page.locator("#generate-run").click()
        expect(page.locator("#generate-gallery img")).to_have_count(8, timeout=120_000)
        expect(page.locator("#generate-gallery")).to_contain_text("asked VI")
        keep = page.locator("#generate-keep")
        keep.get_by_text("#1", exact=True).click()
        keep.get_by_text("#3", exact=True).click()
        page.locator("#generate-add").click()
        expect(page.locator("#generate-message")).to_contain_text("Added 2 image(s)", timeout=30_000)
        page.close()
    table = read_manifest(started_home / "synthetic" / "my-synthetic-set" / "manifest.csv", check_files="decode").table
    assert table["seed"].tolist() == [0, 2] and set(table["fst"]) == {6} and set(table["diagnosis"]) == {"melanoma"}
