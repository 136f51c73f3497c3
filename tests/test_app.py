"""The Data tab: its handlers on a real phantom manifest, and the whole app in Chromium."""

from __future__ import annotations

import os
import subprocess
import sys

import gradio as gr
import pandas as pd
import pytest
from scipy import ndimage

from app.data_tab import MeasuredManifests, browse_page, image_detail, measure_manifest, open_manifest
from fairskin_core.images import read_mask
from fairskin_core.phantoms.dataset import write_phantom_dataset

from .conftest import REPO, demo_credentials, running_app, sign_in, source_tree_files


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    return write_phantom_dataset(tmp_path_factory.mktemp("small") / "set", n=30, preset="ddi", size=64, seed=2, workers=1)


def test_open_manifest_counts_and_gallery(small_set):
    table = pd.read_csv(small_set)
    shown = open_manifest(str(small_set))
    heatmap, fst_update, gallery = shown["heatmap"], shown["type_filter"], shown["gallery"]
    assert shown["message"] == ""
    assert sum(sum(row) for row in heatmap.data[0].z) == 30
    assert heatmap.data[0].zmin == 0 and heatmap.data[0].zmax == max(max(row) for row in heatmap.data[0].z)
    present = set(table["fst"].map({1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI"}))
    assert fst_update["value"] == [c for c in ("I", "II", "III", "IV", "V", "VI") if c in present]
    assert len(gallery) == len(shown["image_ids"]) == 30 and shown["status"].startswith("30 of 30 images")
    first_image, first_caption = gallery[0]
    assert first_image.shape[2] == 3 and first_caption.split(" · ")[0] in fst_update["value"]


def test_filters_and_pages(small_set):
    table = pd.read_csv(small_set)
    everything = ["I", "II", "III", "IV", "V", "VI"]
    ids = browse_page(str(small_set), everything[1:], sorted(set(table["diagnosis"])), 1)["image_ids"]
    assert len(ids) == (table["fst"] != 1).sum() and set(ids) == set(table.loc[table["fst"] != 1, "image_id"])
    shown = browse_page(str(small_set), ["V", "VI"], ["melanoma"], 99)  # clamps to the last page
    expected = table[table["fst"].isin([5, 6]) & (table["diagnosis"] == "melanoma")]
    assert set(shown["image_ids"]) == set(expected["image_id"]) and shown["page"]["value"] == 1


def test_bad_manifest_is_reported_in_the_ui(small_set):
    bad = small_set.parent / "bad.csv"
    table = pd.read_csv(small_set, dtype=str, keep_default_na=False)
    table.loc[2, "fst"] = "0"
    table.to_csv(bad, index=False)
    shown = open_manifest(str(bad))
    assert "row 3 (line 4) (image_id" in shown["message"] and "field 'fst'" in shown["message"]
    assert list(shown) == ["message"]  # the open manifest stays as it was


@pytest.mark.slow
@pytest.mark.browser
def test_data_tab_in_a_browser_on_the_embedded_defaults(browser, small_set, started_home, tmp_path):
    expect = pytest.importorskip("playwright.sync_api").expect
    with running_app(started_home, "--data-root", str(small_set.parent)) as app:
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        sign_in(page, app.admin_url, "admin", demo_credentials(started_home)["admin"])
        status = page.locator("#data-status")
        status.get_by_text("600 of 600 images match").wait_for(timeout=60_000)
        assert page.locator("#data-gallery img").count() == 48
        expect(page.locator("#data-heatmap")).to_contain_text("600 images by skin type and diagnosis", timeout=30_000)
        page.locator("#fst-filter").get_by_label("I", exact=True).uncheck()
        status.get_by_text("500 of 600 images match").wait_for(timeout=30_000)
        page.locator("#data-gallery button").first.click()
        expect(page.locator("#image-metadata")).to_contain_text("phantom-balanced-s0-", timeout=30_000)

        bad = small_set.parent / "bad-for-browser.csv"
        table = pd.read_csv(small_set, dtype=str, keep_default_na=False)
        table.loc[0, "image_path"] = "../../etc/passwd"
        table.to_csv(bad, index=False)
        box = page.get_by_label("Manifest (CSV or Parquet)")
        box.fill(str(bad))
        box.press("Enter")
        expect(page.locator("#data-message")).to_contain_text("field 'image_path'", timeout=30_000)
        expect(status).to_contain_text("500 of 600 images match")
        # a good manifest, but outside the folders the server was allowed to read
        outside = tmp_path / "not-allowed.csv"
        table.loc[0, "image_path"] = pd.read_csv(small_set, dtype=str, keep_default_na=False).loc[0, "image_path"]
        table.assign(image_root=str(small_set.parent)).to_csv(outside, index=False)
        box.fill(str(outside))
        box.press("Enter")
        expect(page.locator("#data-message")).to_contain_text("outside the folders this app may read", timeout=30_000)
        expect(status).to_contain_text("500 of 600 images match")

        box.fill(str(small_set))
        page.get_by_role("button", name="Open").click()
        status.get_by_text("30 of 30 images match").wait_for(timeout=30_000)
        assert page.locator("#data-gallery img").count() == 30
        page.locator("#data-gallery button").first.click()
        expect(page.locator("#image-analysis")).to_contain_text("annotated", timeout=30_000)
        expect(page.locator("#image-analysis")).to_contain_text("ABCD")
        page.get_by_text("Skin colour (ITA) of the whole manifest").click()
        page.locator("#measure-manifest").click()
        expect(page.locator("#manifest-agreement")).to_contain_text("30 images measured", timeout=60_000)
        page.close()


def test_selected_image_shows_its_mask_outline_and_metadata(small_set):
    table = pd.read_csv(small_set, dtype=str, keep_default_na=False)
    ids = list(table["image_id"][:5])
    shown = image_detail(str(small_set), ids, gr.SelectData(None, {"index": 3, "value": None}))
    picture, skin_view, measured, fields = shown["detail"], shown["skin"], shown["analysis"], shown["metadata"]
    assert f"annotated: **{['I', 'II', 'III', 'IV', 'V', 'VI'][int(table.loc[3, 'fst']) - 1]} (annotated)**" in measured
    assert "ABCD" in measured and skin_view.shape == picture.shape
    row = dict(zip(fields["field"], fields["value"], strict=True))
    assert row["image_id"] == ids[3] and row["diagnosis"] == table.loc[3, "diagnosis"]
    mask = read_mask(small_set.parent / table.loc[3, "mask_path"])
    scale = picture.shape[0] // mask.shape[0]  # shown enlarged, pixel for pixel
    outline = (picture == (0, 255, 120)).all(axis=2)[::scale, ::scale]
    assert outline.any() and (outline <= mask).all()  # drawn on the lesion's own border
    assert not (outline & ndimage.binary_erosion(mask, iterations=2)).any()


def test_measuring_a_manifest_gives_agreement_and_figures(small_set):
    measured = MeasuredManifests()
    shown = measure_manifest(str(small_set), measured)
    figure, confusion, summary = shown["ita"], shown["types"], shown["agreement"]
    table = pd.read_csv(small_set)
    assert sum(len(trace.y) for trace in figure.data) == len(table)  # one ITA per image, grouped by type
    assert sum(sum(row) for row in confusion.data[0].z) == len(table)
    assert "30 images measured" in summary and "exact agreement" in summary
    assert measure_manifest(str(small_set), measured)["agreement"] == summary  # measured once, then cached


@pytest.mark.slow
def test_building_the_app_writes_nothing_into_the_source_tree(small_set, tmp_path):
    """Gradio writes .pyi stubs beside any Component subclass, for one; the app must not trigger that."""
    before = source_tree_files()
    env = {**os.environ, "FAIRSKIN_HOME": str(tmp_path), "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    code = ("import sys; from app.server import build_server; from app.settings import AppSettings; "
            "from review_data.store import workspace_store; settings = AppSettings.from_environment(); "
            "build_server(settings, workspace_store(settings.workspace), sys.argv[1])")
    result = subprocess.run(
        [sys.executable, "-c", code, str(small_set)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert source_tree_files() == before
