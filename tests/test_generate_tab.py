"""The Generate tab in Chromium at 1366 × 768: counts refused not changed, errors that clear the gallery, whole captions,
the zip, the history, background runs resumed after a restart, Stable Diffusion with a LoRA and a size, and tone transfer.

One server for the module, on a workspace holding the embedded defaults and a tiny random Stable Diffusion with a LoRA."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from app.cli_generate import request_command
from app.generate_tab import run_gallery
from app.outline import OUTLINE_COLOUR, at_shown_size, lesion_outline, shown_size
from app.settings import AppSettings
from fairskin_core.finetune.random_pipeline import build_random_stable_diffusion
from fairskin_core.generation.run_folders import read_run, recent_runs
from fairskin_core.generation.tone_transfer import compare_tone, parse_source_image
from fairskin_core.images import read_rgb
from fairskin_core.manifest import read_manifest

from .conftest import WORDS_BROKEN, demo_credentials, running_app, sign_in, with_embedded_defaults
from .test_stable_diffusion_generation import make_lora

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LAPTOP = {"width": 1366, "height": 768}


def expect():
    return pytest.importorskip("playwright.sync_api").expect


@pytest.fixture(scope="module")
def home(embedded_defaults, tmp_path_factory):
    home = with_embedded_defaults(tmp_path_factory.mktemp("workspace"), embedded_defaults)
    model = build_random_stable_diffusion(home / "sd", "tiny")
    make_lora(model, home / "lora", seed=1)
    return home


@pytest.fixture(scope="module")
def server(home):
    with running_app(home) as app:
        yield app


def open_tab(browser, app, home):
    page = browser.new_page(viewport=LAPTOP)
    sign_in(page, app.admin_url, "admin", demo_credentials(home)["admin"])
    expect()(page.locator("#signed-in")).to_contain_text("admin", timeout=120_000)  # the page's first load has answered
    page.get_by_role("tab", name="Generate").click()
    return page


def fill(page, count=None, steps=None, seed=None) -> None:
    """Type into the number boxes (the sampler's opened first when steps are given)."""
    if steps is not None:
        if not page.locator("#generate-steps").is_visible():
            page.get_by_text("Sampler").click()
        page.locator("#generate-steps input").fill(str(steps))
    for box, value in (("#generate-count", count), ("#generate-seed", seed)):
        if value is not None:
            page.locator(f"{box} input").fill(str(value))
            page.locator(f"{box} input").blur()


def generated(page, count: int):
    """Click Generate and wait for ``count`` images (each with its caption) in the gallery."""
    page.locator("#generate-run").click()
    expect()(page.locator("#generate-gallery .thumbnail-item")).to_have_count(count, timeout=180_000)
    return page.locator("#generate-gallery .caption-label")


def runs(home: Path) -> list:
    return recent_runs(home / "generated", limit=1000)


def test_counts_out_of_range_or_not_whole_are_refused_with_a_message_and_never_changed(browser, server, home):
    page = open_tab(browser, server, home)
    before = len(runs(home))
    for typed in ("0", "-3", "2.5", "200000"):
        fill(page, count=typed)
        page.locator("#generate-run").click()
        expect()(page.locator("#generate-message")).to_contain_text(f"Images must be a whole number from 1 to 100,000, not {typed}",
                                                                   timeout=30_000)
        assert page.locator("#generate-count input").input_value() == typed  # left as typed
    assert len(runs(home)) == before  # nothing was started
    page.close()


def test_an_error_clears_the_previous_images_and_captions_are_whole(browser, server, home, tmp_path):
    page = open_tab(browser, server, home)
    fill(page, count=8, steps=3)
    captions = generated(page, 8)
    # two rows of images: all of them on the page, none hidden in a box that scrolls by itself (Gradio's 55vh cap)
    assert page.locator("#generate-gallery .grid-wrap").evaluate("e => e.scrollHeight <= e.clientHeight + 1")
    for index in range(8):  # each caption whole (not cut by an ellipsis) and inside its tile
        caption = captions.nth(index)
        assert caption.evaluate("e => e.scrollWidth <= e.clientWidth + 1 && e.scrollHeight <= e.clientHeight + 1")
        tile, box = page.locator("#generate-gallery .thumbnail-item").nth(index).bounding_box(), caption.bounding_box()
        assert box["y"] + box["height"] <= tile["y"] + tile["height"] + 1 and box["x"] + box["width"] <= tile["x"] + tile["width"] + 1
        assert "measured" in caption.inner_text() or "not measurable" in caption.inner_text()
    page.screenshot(path=str(Path(os.environ.get("FAIRSKIN_SCREENSHOTS", tmp_path)) / "generate-1366x768.png"), full_page=True)

    page.locator("#generate-model input").fill(str(home / "no-such-model"))
    page.locator("#generate-model input").press("Enter")
    page.locator("#generate-run").click()
    expect()(page.locator("#generate-message")).to_contain_text("Not generated", timeout=60_000)
    expect()(page.locator("#generate-message")).to_contain_text("no-such-model")
    expect()(page.locator("#generate-gallery .thumbnail-item")).to_have_count(0)
    expect()(page.locator("#generate-keep input[type=checkbox]")).to_have_count(0)
    expect()(page.locator("#generate-download")).to_be_hidden()
    page.close()


def test_download_a_zip_of_the_images_and_their_manifest_then_reopen_an_earlier_run(browser, server, home, tmp_path):
    page = open_tab(browser, server, home)
    fill(page, count=2, steps=2, seed=5)
    generated(page, 2)
    first = runs(home)[0]
    fill(page, count=3, steps=2, seed=6)
    generated(page, 3)
    with page.expect_download() as download:
        page.locator("#generate-download").click()
    download.value.save_as(tmp_path / "run.zip")
    latest = runs(home)[0]
    with zipfile.ZipFile(tmp_path / "run.zip") as archive:
        archive.extractall(tmp_path / "unzipped")
    table = read_manifest(tmp_path / "unzipped" / latest.folder.name / "manifest.csv", check_files="decode").table
    assert len(table) == 3 and set(table["seed"]) == set(read_manifest(latest.manifest, check_files="none").table["seed"])

    page.get_by_text("History: recent runs").click()
    expect()(page.locator("#generate-history")).to_contain_text(first.folder.name, timeout=30_000)
    page.locator("#generate-history-run input").click()
    page.get_by_role("option", name=f"{first.created} · 2 × VI melanoma").click()
    page.locator("#generate-reopen").click()
    expect()(page.locator("#generate-gallery .thumbnail-item")).to_have_count(2, timeout=60_000)
    expect()(page.locator("#generate-message")).to_contain_text(first.folder.name)
    expect()(page.locator("#generate-gallery")).to_contain_text(f"seed {read_manifest(first.manifest).table['seed'][0]}")
    # The form shows the reopened run's request, not what was typed last (3 images, seed 6): Generate makes that run again.
    expect()(page.locator("#generate-count input")).to_have_value("2")
    expect()(page.locator("#generate-seed input")).to_have_value("5")
    page.close()


def test_a_large_request_runs_in_the_background_and_resumes_after_a_restart(browser, home, tmp_path):
    expect_ = expect()
    with running_app(home) as app:  # a server of its own: it is killed halfway
        page = open_tab(browser, app, home)
        fill(page, count=64, steps=3, seed=7)
        page.locator("#generate-run").click()
        expect_(page.locator("#generate-message")).to_contain_text("64 images are being made in the background", timeout=60_000)
        expect_(page.locator("#generate-job")).to_contain_text("Background generation", timeout=30_000)
        folder = runs(home)[0].folder
        expect_(page.locator("#generate-job")).to_contain_text("16 / 64 images", timeout=180_000)  # the first batch is saved
        page.close()
    saved = read_manifest(folder / "manifest.csv", check_files="none").table["image_path"]  # the server is gone: this is all
    made = {path: (folder / path).read_bytes() for path in saved}
    assert 16 <= len(made) < 64 and read_run(folder).status == "running"

    with running_app(home) as app:
        page = open_tab(browser, app, home)
        page.get_by_text("History: recent runs").click()
        expect_(page.locator("#generate-history")).to_contain_text(f"stopped at {len(made)} of 64: resumable", timeout=30_000)
        page.locator("#generate-resume").click()  # the newest run is the one picked
        expect_(page.locator("#generate-message")).to_contain_text(f"{len(made)} of 64 images were made before", timeout=30_000)
        expect_(page.locator("#generate-message")).to_contain_text("Background generation finished", timeout=300_000)
        expect_(page.locator("#generate-gallery .thumbnail-item")).to_have_count(AppSettings.shown)  # the first ones; the zip has all
        page.close()
    table = read_manifest(folder / "manifest.csv", check_files="decode").table
    assert len(table) == 64 and read_run(folder).status == "finished"
    assert all((folder / path).read_bytes() == data for path, data in made.items())  # what was made before is kept as it was


def test_a_huge_request_asks_first_and_a_background_run_is_cancelled_keeping_its_images(browser, server, home, tmp_path):
    """100,000 images: the time it would take, and a second press, before anything starts. A background run: Cancel stops
    it after the batch being made, whose images stay, and the history offers to resume it."""
    expect_ = expect()
    page = open_tab(browser, server, home)
    message, job, cancel = page.locator("#generate-message"), page.locator("#generate-job"), page.locator("#generate-cancel")
    before = len(runs(home))
    fill(page, count=100_000, steps=3, seed=3)
    page.locator("#generate-run").click()
    expect_(message).to_contain_text("Not started yet: 100,000 images would take", timeout=60_000)
    expect_(message).to_contain_text("Press Generate again to start")
    assert len(runs(home)) == before  # nothing made, nothing queued

    fill(page, count=48, steps=3, seed=4)  # three batches of 16, in the background
    page.locator("#generate-run").click()
    expect_(message).to_contain_text("48 images are being made in the background", timeout=60_000)
    expect_(job).to_contain_text("16 / 48 images", timeout=180_000)
    cancel.click()
    expect_(message).to_contain_text("Background generation cancelled at", timeout=180_000)
    expect_(cancel).to_be_hidden()
    record = runs(home)[0]
    assert record.status == "cancelled" and 16 <= record.made < 48
    assert len(read_manifest(record.manifest, check_files="decode").table) == record.made  # every saved image kept, readable
    page.get_by_text("History: recent runs").click()
    expect_(page.locator("#generate-history")).to_contain_text(f"cancelled at {record.made} of 48: resumable", timeout=30_000)
    assert page.evaluate(WORDS_BROKEN, "#generate-history") == []  # "skin type", never "ski n typ e"
    page.locator("#generate-history").scroll_into_view_if_needed()
    page.screenshot(path=str(Path(os.environ.get("FAIRSKIN_SCREENSHOTS", tmp_path)) / "generate-history-1366x768.png"))
    message.scroll_into_view_if_needed()
    page.screenshot(path=str(Path(os.environ.get("FAIRSKIN_SCREENSHOTS", tmp_path)) / "generate-cancelled-1366x768.png"))
    page.close()


def test_stable_diffusion_with_a_weighted_lora_at_a_chosen_size(browser, server, home):
    page = open_tab(browser, server, home)
    expect()(page.locator("#generate-size")).to_be_hidden()  # fairskin's model makes one size
    page.locator("#generate-mode").get_by_text("Stable Diffusion", exact=True).click()
    page.locator("#generate-loras textarea").fill(f"{home / 'lora'}:0.8")
    model = page.locator("#generate-sd-model textarea, #generate-sd-model input").first
    model.fill(str(home / "sd"))
    # Leaving the box is its one event: its answer offers the model's sizes and resets the size, so the size is chosen
    # once "96" is offered (a second event, such as Enter then a click away, could answer after the choice and undo it).
    model.blur()
    page.locator("#generate-size input").click()
    page.get_by_role("option", name="96", exact=True).click()
    expect()(page.locator("#generate-size input")).to_have_value("96")
    fill(page, count=2, steps=2)
    generated(page, 2)
    record = runs(home)[0]
    table = read_manifest(record.manifest, check_files="decode").table
    assert read_rgb(record.folder / table["image_path"][0]).shape == (96, 96, 3)
    assert set(table["model_id"]) == {f"stable-diffusion:{home / 'sd'}+lora:{home / 'lora'}@0.8"}
    assert table["prompt"][0] == "dermoscopy image of melanoma on Fitzpatrick type VI (six) skin"
    expect()(page.locator("#generate-message")).to_contain_text("--size 96")
    page.close()


def test_tone_transfer_shows_each_source_beside_its_result_measured_and_outlined(browser, server, home, tmp_path):
    """The physically based transfer: no model to give, nothing to sample; each result measured by the learned estimator."""
    page = open_tab(browser, server, home)
    page.locator("#generate-mode").get_by_text("Skin-tone transfer", exact=True).click()
    expect()(page.locator("#generate-sd-model")).to_be_hidden()
    expect()(page.locator("#generate-strength")).to_be_hidden()
    expect()(page.get_by_text("Sampler")).to_be_hidden()
    source = page.locator("#generate-source-manifest textarea, #generate-source-manifest input").first
    source.press("Enter")
    expect()(page.locator("#generate-message")).to_contain_text("source images listed", timeout=30_000)
    sources = read_manifest(next((home / "phantoms").glob("*/manifest.csv")), check_files="none").table
    for image_id in sources["image_id"][:2]:
        page.locator("#generate-source-ids input").fill(image_id)
        page.get_by_role("option", name=f"{image_id} ·").click()
    captions = generated(page, 2)
    for index in range(2):
        text = captions.nth(index).inner_text()
        assert "→ asked VI, got type" in text and "(p 0." in text and "ITA" in text and "lesion overlap" in text, text
    shots = Path(os.environ.get("FAIRSKIN_SCREENSHOTS", tmp_path))
    page.screenshot(path=str(shots / "tone-transfer-1366x768.png"), full_page=True)
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.screenshot(path=str(shots / "tone-transfer-1920x1080.png"), full_page=True)
    record = runs(home)[0]
    table = read_manifest(record.manifest, check_files="decode").table
    assert record.request.kind == "tone-transfer" and table["source_image"].str.startswith("method=melanin-density;").all()
    command = request_command(record.request, record.folder)
    assert command.startswith("fairskin tone-transfer --manifest") and "--steps" not in command
    assert table["measured_fst_status"].notna().all()
    # what the gallery shows: source | gap | result, each at the shown size, outlined exactly along its measured lesion
    pair, _ = run_gallery(record.folder)[0]
    source_row = sources.set_index("image_id").loc[parse_source_image(table["source_image"][0])["image_id"]]
    source_image = read_rgb(Path(record.request.source_manifest).parent / source_row["image_path"])
    measured = compare_tone(source_image, read_rgb(record.folder / table["image_path"][0]))
    width, height = shown_size(source_image.shape)
    assert pair.shape[0] == height and pair.shape[1] > 2 * width
    for side, picture in (("source", pair[:, :width]), ("result", pair[:, -width:])):
        drawn = (picture == OUTLINE_COLOUR).all(axis=2)
        mask = measured[side]["mask"]
        expected = lesion_outline(at_shown_size(mask, (width, height))) if mask is not None else np.zeros_like(drawn)
        assert (drawn == expected).all(), side
    page.locator("#generate-keep").get_by_text("#1", exact=True).click()
    page.locator("#generate-add").click()
    expect()(page.locator("#generate-message")).to_contain_text("Added 1 image(s)", timeout=30_000)
    kept = read_manifest(home / "synthetic" / "my-synthetic-set" / "manifest.csv", check_files="decode").table
    assert kept["source_image"].tolist() == table["source_image"][:1].tolist()
    page.close()
