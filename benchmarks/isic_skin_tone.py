"""The skin tone of a real dataset: ITA over the whole official ISIC 2017 split, beside Kinyanjui et al.

    python benchmarks/isic_skin_tone.py [--figure docs/isic2017_ita.png] [--workers 2]

Imports the ISIC 2017 Part 3 split (train / val / test) from ../shared/real_samples (or
$FAIRSKIN_REAL_SAMPLES) into a temporary folder, measures every image with the skin-tone
pipeline (`fairskin ita`), and prints Markdown for docs/skin_tone.md: the distribution of ITA
and of estimated types per split, every unmeasured image counted by reason, and the same skin
colours re-expressed on the 8-bit CIELAB encoding (L*·255/100, b* + 128) that would put them on
Kinyanjui et al.'s published scale. Writes the histogram figure (PNG through headless Chromium
where Playwright and Debian's chromium are installed; the HTML always).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from fairskin_core.analysis.pipeline import analyse_manifest
from fairskin_core.analysis.tone_report import format_distribution, tone_distribution
from fairskin_core.importers import import_dataset
from fairskin_core.manifest import read_manifest

REAL = Path(os.environ.get("FAIRSKIN_REAL_SAMPLES") or Path(__file__).resolve().parents[2] / "shared" / "real_samples")
# Kinyanjui et al.'s per-image ITA for ISIC 2018 Task 3 (10,010 images), as released with the authors'
# permission in github.com/tkalbl/RevisitingSkinToneFairness (data/ISIC2018/.../metadata.csv, commit faa2adc).
PUBLISHED_ISIC2018 = {"n": 10010, "mean": 43.4, "sd": 5.0, "median": 43.6, "q25": 40.4, "q75": 46.6, "in_band": 0.798, "above_55": 0.007}
BAND = (34.5, 48.0)  # "the majority of the data ... have ITA values between 34.5° and 48°" (arXiv:1910.13268)


def eight_bit_ita(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ITA computed on the 8-bit CIELAB encoding (OpenCV's: L*·255/100 and b* + 128), as if those were L* and b*."""
    return np.degrees(np.arctan((2.55 * L - 50.0) / (b + 128.0)))


def isic2017_manifest(folder: Path) -> Path:
    train, val_test = REAL / "isic2017_256px_train", REAL / "isic2017_256px_val_test"
    metadata = [train / "ISIC-2017_Training_Part3_GroundTruth.csv", val_test / "ISIC-2017_Validation_Part3_GroundTruth.csv",
                val_test / "ISIC-2017_Test_v2_Part3_GroundTruth.csv"]
    return import_dataset("isic2017", metadata, [train / "images", val_test / "images"], folder / "isic2017.csv").manifest


def summary_row(name: str, ita: np.ndarray) -> str:
    q25, median, q75 = np.percentile(ita, [25, 50, 75])
    in_band = np.mean((ita >= BAND[0]) & (ita <= BAND[1]))
    return (f"| {name} | {len(ita)} | {ita.mean():.1f} ({ita.std(ddof=1):.1f}) | {median:.1f} | {q25:.1f}–{q75:.1f} | "
            f"{in_band:.1%} | {np.mean(ita > 55):.1%} |")


def figure(ita: np.ndarray, encoded: np.ndarray, refused: int) -> go.Figure:
    plot = go.Figure()
    bins = {"start": -10, "end": 90, "size": 2.5}
    plot.add_histogram(x=ita, xbins=bins, name=f"fairskin, true CIELAB ({len(ita)} measured; {refused} refused)", opacity=0.7,
                       marker_color="#8c6d52")
    plot.add_histogram(x=encoded, xbins=bins, name="the same skin colours on the 8-bit encoding", opacity=0.6, marker_color="#4c78a8")
    plot.add_vrect(x0=BAND[0], x1=BAND[1], fillcolor="grey", opacity=0.15, line_width=0,
                   annotation_text="Kinyanjui et al.: most ISIC 2018 images", annotation_position="top left")
    plot.update_layout(barmode="overlay", title="ITA of the ISIC 2017 split (train + val + test, 256 px)", xaxis_title="ITA (degrees)",
                       yaxis_title="images", width=1000, height=520, legend={"orientation": "h", "y": -0.2})
    return plot


def save_png(plot: go.Figure, png: Path) -> None:
    html = png.with_suffix(".html")
    plot.write_html(html, include_plotlyjs=True)
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1000, "height": 540})
            page.goto(html.resolve().as_uri())
            page.locator(".js-plotly-plot").wait_for()
            page.screenshot(path=str(png))
            browser.close()
        html.unlink()
        print(f"wrote {png}")
    except Exception as exc:  # noqa: BLE001 - the figure is optional; the numbers are the result
        print(f"wrote {html} (no PNG: {type(exc).__name__}: {exc})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--figure", type=Path, default=Path("docs/isic2017_ita.png"))
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = read_manifest(isic2017_manifest(Path(tmp)))
        table = analyse_manifest(manifest, workers=args.workers)
    table["split"] = manifest.table["split"].to_numpy()
    print("## Per split\n")
    for split in ("train", "val", "test", None):
        part = table if split is None else table[table["split"] == split]
        print(f"**{split or 'all'}**: " + format_distribution(tone_distribution(part)).replace("\n", "; ") + "\n")
    ok = table[table["status"] == "ok"]
    skin = table[table["skin_b"].notna()]  # measured skin colour, including the images refused as not skin-coloured
    encoded = eight_bit_ita(skin["skin_L"].to_numpy(), skin["skin_b"].to_numpy())
    published = PUBLISHED_ISIC2018
    print("## Side by side\n")
    print("| ITA of | images | mean (SD) | median | IQR | in 34.5–48° | above 55° (type I) |\n| --- | --- | --- | --- | --- | --- | --- |")
    print(f"| Kinyanjui et al., ISIC 2018 (HAM10000), their released values | {published['n']} | {published['mean']} ({published['sd']}) | "
          f"{published['median']} | {published['q25']}–{published['q75']} | {published['in_band']:.1%} | {published['above_55']:.1%} |")
    print(summary_row("fairskin, ISIC 2017, true CIELAB (measured images)", ok["ita"].to_numpy()))
    print(summary_row("fairskin, ISIC 2017, same skin colours on the 8-bit encoding (incl. refused b* ≤ 2)", encoded))
    b = skin["skin_b"].to_numpy()
    print(f"\nMedian skin b* {np.median(b):.1f} (IQR {np.percentile(b, 25):.1f}–{np.percentile(b, 75):.1f}); "
          f"b* ≤ 2 in {np.mean(b <= 2):.1%} of the {len(b)} images whose skin was found; "
          f"correlation of the 8-bit ITA with L* alone: {np.corrcoef(encoded, skin['skin_L'])[0, 1]:.3f}")
    refused = int((table["status"] != "ok").sum())
    save_png(figure(ok["ita"].to_numpy(), encoded, refused), args.figure)


if __name__ == "__main__":
    main()
