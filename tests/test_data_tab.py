"""The Data tab as a new researcher met it (issue 17): a failed open, page numbers out of range, the lesion outline.

Each point is checked on the handlers and in Chromium at 1366 × 768 (screenshots in $FAIRSKIN_SCREENSHOTS,
else the test's temporary folder): the outline against the mask it draws, on phantoms and on a real ISIC
2017 image with its official mask where ../shared/real_samples is present.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import ndimage

from app.data_tab import browse_page, image_detail, open_manifest
from app.outline import DETAIL_PX, OUTLINE_COLOUR, OUTLINE_PX
from fairskin_core.images import read_mask
from fairskin_core.manifest import read_manifest, write_manifest
from fairskin_core.phantoms.dataset import write_phantom_dataset

from .conftest import REAL_SAMPLES, demo_credentials, real_sample, running_app, sign_in

EVERY_TYPE = ["I", "II", "III", "IV", "V", "VI"]


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory) -> Path:
    """60 phantoms at 64 px with their masks: two pages of thumbnails."""
    return write_phantom_dataset(tmp_path_factory.mktemp("phantoms") / "set", n=60, preset="ddi", size=64, seed=3, workers=1)


def isic_with_masks(folder: Path, n: int = 3) -> Path:
    """A manifest of the first ``n`` ISIC 2017 validation images at 1024 px with their official lesion masks."""
    source = real_sample("isic2017_val98_1024px")
    labels = pd.read_csv(source / "labels.csv", dtype=str).head(n)
    table = pd.DataFrame({
        "image_id": labels["image_id"], "image_path": labels["file"], "diagnosis": labels["diagnosis"],
        "malignant": (labels["diagnosis"] == "melanoma").map({True: "true", False: "false"}), "fst": "", "fst_group": "",
        "fst_source": "", "source": "real", "dataset": "isic2017", "split": "val", "image_root": str(source), "mask_path": labels["mask"],
    })
    return write_manifest(table, folder / "isic2017-with-masks.csv")


def selected(manifest: Path, index: int) -> tuple:
    """The image at ``index`` as the tab shows it once clicked: outlined, its healthy skin, and what was measured."""
    ids = list(read_manifest(manifest).table["image_id"])
    shown = image_detail(str(manifest), ids, gr.SelectData(None, {"index": index, "value": None}))
    return shown["detail"], shown["skin"], shown["analysis"]


def drawn(picture: np.ndarray) -> np.ndarray:
    return (picture[..., :3] == OUTLINE_COLOUR).all(axis=2)


def border_as_shown(mask: np.ndarray, picture: np.ndarray) -> np.ndarray:
    """Where the outline must be: the border of ``mask`` at the picture's size, OUTLINE_PX wide per DETAIL_PX (holes, every part)."""
    height, width = picture.shape[:2]
    shown = np.asarray(Image.fromarray(mask).resize((width, height), Image.Resampling.NEAREST))
    wide = max(OUTLINE_PX, round(OUTLINE_PX * max(height, width) / DETAIL_PX))
    return shown & ~ndimage.binary_erosion(shown, iterations=wide)


def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("FAIRSKIN_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_outline_is_the_border_of_the_given_mask_on_phantoms(phantoms, tmp_path):
    table = read_manifest(phantoms).table
    for index in range(5):
        picture, skin_view, measured = selected(phantoms, index)
        mask = read_mask(phantoms.parent / table.iloc[index]["mask_path"])
        assert picture.shape[:2] == skin_view.shape[:2] == (DETAIL_PX, DETAIL_PX) and "lesion mask: given" in measured
        assert drawn(picture).any() and (drawn(picture) == border_as_shown(mask, picture)).all(), index
    Image.fromarray(picture).save(screenshots(tmp_path) / "outline-phantom.png")


def test_a_mask_of_another_size_with_a_hole_and_two_parts_is_outlined_everywhere(phantoms, tmp_path):
    mask = np.zeros((32, 32), dtype=bool)
    mask[4:20, 4:20] = True
    mask[9:15, 9:15] = False  # a hole
    mask[24:30, 22:30] = True  # a second part
    Image.fromarray(mask).save(phantoms.parent / "masks" / "ring-and-blob-32px.png")
    table = read_manifest(phantoms).table.head(1).assign(mask_path="masks/ring-and-blob-32px.png", image_root=str(phantoms.parent))
    manifest = write_manifest(table, tmp_path / "odd-mask.csv")
    picture, _, measured = selected(manifest, 0)
    assert "lesion mask: given (32x32 px, resized to the image's 64x64)" in measured
    assert (drawn(picture) == border_as_shown(mask, picture)).all()
    assert ndimage.label(drawn(picture))[1] == 3  # around the ring, inside its hole, around the second part


def test_the_outline_is_the_border_of_the_official_mask_on_real_isic_images(tmp_path):
    manifest = isic_with_masks(tmp_path)
    table = read_manifest(manifest).table
    for index in range(len(table)):
        picture, _, measured = selected(manifest, index)
        image_size = Image.open(REAL_SAMPLES / "isic2017_val98_1024px" / table.iloc[index]["image_path"]).size
        assert picture.shape[1::-1] == image_size and "lesion mask: given" in measured  # 1024 px: shown as they are
        mask = read_mask(REAL_SAMPLES / "isic2017_val98_1024px" / table.iloc[index]["mask_path"])
        assert drawn(picture).any() and (drawn(picture) == border_as_shown(mask, picture)).all(), index
    Image.fromarray(picture).save(screenshots(tmp_path) / "outline-isic2017.png")


def test_pages_that_do_not_exist_are_brought_within_range_and_said(phantoms):
    for asked, page, note in [
        (0, 1, "there is no page 0; page 1 is the first"), (-3, 1, "there is no page -3; page 1 is the first"),
        (2.5, 2, "there is no page 2.5; page 2 is shown instead"), (999, 2, "there is no page 999; page 2 is the last"),
        (None, 1, "type a page number; showing the first"), (2, 2, ""),
    ]:
        shown = browse_page(str(phantoms), EVERY_TYPE, sorted(set(pd.read_csv(phantoms)["diagnosis"])), asked)
        assert shown["page"] == {"__type__": "update", "value": page}
        assert len(shown["image_ids"]) == len(shown["gallery"]) == (48 if page == 1 else 12)
        assert shown["status"] == f"60 of 60 images match · page {page} of 2" + (f" · **{note}**" if note else ""), asked


def test_a_file_that_is_no_manifest_is_refused_in_our_words(phantoms):
    image = next((phantoms.parent / "images").iterdir())
    shown = open_manifest(str(image))
    assert shown["message"].startswith(f"**Could not open {image}:** this is not a manifest") and "codec" not in shown["message"]
    assert list(shown) == ["message"]  # the open manifest stays as it was


@pytest.fixture(scope="module")
def served(embedded_defaults, phantoms, tmp_path_factory):
    """`fairskin serve` on a workspace with the embedded defaults, allowed to read the phantoms (and the real samples)."""
    session_home, home = Path(os.environ["FAIRSKIN_HOME"]), tmp_path_factory.mktemp("served") / "home"
    for folder in embedded_defaults:
        shutil.copytree(folder, home / folder.relative_to(session_home))
    roots = [phantoms.parent, *([REAL_SAMPLES, home] if REAL_SAMPLES.exists() else [])]
    with running_app(home, *(arg for root in roots for arg in ("--data-root", str(root)))) as app:
        yield app, home


def data_tab(browser, served, manifest: Path, rows: int):
    """A signed-in admin's page at 1366 × 768 with ``manifest`` open."""
    app, home = served
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    sign_in(page, app.admin_url, "admin", demo_credentials(home)["admin"])
    page.locator("#data-status").get_by_text("600 of 600 images match").wait_for(timeout=60_000)
    # A page opened while the server was starting ticks a timer once, 2 s after loading, that opens the box's manifest
    # again (app/main.py) and would undo what a test does before it: let it pass.
    page.wait_for_timeout(2_500)
    box = page.get_by_label("Manifest (CSV or Parquet)")
    box.fill(str(manifest))
    box.press("Enter")
    page.locator("#data-status").get_by_text(f"{rows} of {rows} images match").wait_for(timeout=60_000)
    return page, box


@pytest.mark.slow
@pytest.mark.browser
def test_a_failed_open_says_which_path_failed_and_keeps_it_in_the_box_to_correct(browser, served, phantoms, tmp_path):
    expect = pytest.importorskip("playwright.sync_api").expect
    page, box = data_tab(browser, served, phantoms, 60)
    message, status = page.locator("#data-message"), page.locator("#data-status")
    missing, image = phantoms.parent / "no-such-manifest.csv", next((phantoms.parent / "images").iterdir())
    outside = Path("/nowhere/elsewhere/manifest.csv")
    for path, why in [(missing, "manifest not found"), (image, "this is not a manifest"),
                      (outside, "is outside the folders this app may read")]:
        box.fill(str(path))
        box.press("Enter")
        expect(message).to_contain_text(why, timeout=30_000)
        expect(box).to_have_value(str(path))  # what was typed stays, to be corrected: it never jumps back
        expect(message).to_contain_text(f"Could not open {path}: {why}")
        expect(message).to_contain_text(f"Still showing {phantoms}")
        expect(status).to_contain_text("60 of 60 images match")
    expect(message).to_contain_text("an admin adds folders by restarting")
    expect(message).to_contain_text("serve --data-root FOLDER [FOLDER ...]")
    page.screenshot(path=str(screenshots(tmp_path) / "data-failed-open-1366x768.png"))
    page.close()


@pytest.mark.slow
@pytest.mark.browser
def test_typed_page_numbers_out_of_range_are_brought_within_it_in_our_words(browser, served, phantoms, tmp_path):
    expect = pytest.importorskip("playwright.sync_api").expect
    page, _ = data_tab(browser, served, phantoms, 60)
    status, number = page.locator("#data-status"), page.locator("#page-number input")
    for typed, shown, note in [
        ("999", "2", "there is no page 999; page 2 is the last"), ("0", "1", "there is no page 0; page 1 is the first"),
        ("-4", "1", "there is no page -4; page 1 is the first"), ("2.5", "2", "there is no page 2.5; page 2 is shown instead"),
    ]:
        number.fill(typed)
        number.press("Enter")
        expect(status).to_contain_text(f"page {shown} of 2 · {note}", timeout=30_000)
        expect(number).to_have_value(shown)
        if typed == "999":
            page.locator("#page-number").scroll_into_view_if_needed()
            page.screenshot(path=str(screenshots(tmp_path) / "data-page-999-1366x768.png"))
    page.locator("#next-page").click()
    expect(status).to_contain_text("page 2 of 2 · there is no page 3; page 2 is the last", timeout=30_000)
    expect(page.get_by_test_id("toast-body")).to_have_count(0)  # no pop-up in Gradio's words ("greater than maximum value")
    page.close()


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("dataset", ["phantoms", "isic2017"])
def test_the_outline_the_browser_receives_is_the_border_of_the_mask(browser, served, phantoms, dataset, tmp_path):
    expect = pytest.importorskip("playwright.sync_api").expect
    manifest = phantoms if dataset == "phantoms" else isic_with_masks(served[1])
    table = read_manifest(manifest).table
    page, _ = data_tab(browser, served, manifest, len(table))
    page.locator("#data-gallery button").first.click()
    expect(page.locator("#image-analysis")).to_contain_text("lesion mask: given", timeout=30_000)
    expect(page.locator("#image-metadata")).to_contain_text(table.iloc[0]["image_id"])
    shown = page.locator("#data-detail img")
    received = page.request.get(shown.get_attribute("src"))
    picture = np.asarray(Image.open(io.BytesIO(received.body())).convert("RGB"))
    mask = read_mask(read_manifest(manifest).mask_file(table.iloc[0]["mask_path"], table.iloc[0]["image_root"]))
    assert (drawn(picture) == border_as_shown(mask, picture)).all()
    assert shown.bounding_box()["width"] >= 0.9 * DETAIL_PX  # not shrunk by the browser to where a 2 px line thins out
    shown.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots(tmp_path) / f"data-outline-{dataset}-1366x768.png"))
    page.close()


@pytest.mark.browser
def test_a_figure_drawn_while_its_tab_was_hidden_fills_its_box_when_shown(browser, served):
    """Seen at 1920 × 1080: left for another tab while the page was still loading, the Data tab's heatmap came back
    700 px wide (plotly's default for a hidden box) in a 1856 px box."""
    app, home = served
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    held = []  # the page's first requests to the server, held back until another tab is shown: a slow first load
    page.route("**/gradio_api/queue/join*", lambda route: held.append(route))
    sign_in(page, app.admin_url, "admin", demo_credentials(home)["admin"])
    while not held:
        page.wait_for_timeout(100)
    page.get_by_role("tab", name="Generate").click()
    for request in list(held):
        request.continue_()
    page.unroute("**/gradio_api/queue/join*")  # and any request held meanwhile goes on
    page.locator("#data-status").get_by_text("600 of 600 images match").wait_for(state="attached", timeout=60_000)
    page.wait_for_timeout(1_000)
    page.get_by_role("tab", name="Data").click()
    page.wait_for_timeout(1_500)  # as a user looks: no later resize of the window may come to the rescue
    width = page.locator("#data-heatmap .main-svg").first.bounding_box()["width"]
    box = page.locator("#data-heatmap").bounding_box()["width"]
    assert width >= 0.95 * box, f"the heatmap is {width:.0f} px wide in a {box:.0f} px box"
    page.close()
