"""The Data tab: browse any manifest by skin type and diagnosis, see each image's metadata."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage

from fairskin_core.diagnoses import SHORT_NAMES
from fairskin_core.images import ImageFileError, read_mask, read_rgb
from fairskin_core.manifest import Manifest, ManifestError, read_manifest
from fairskin_core.plots import count_heatmap
from fairskin_core.summary import filter_rows, fst_categories, fst_diagnosis_counts
from review_data.store import ReviewStore

from .access import only

PAGE_SIZE = 48
THUMBNAIL_PX = 192
DETAIL_PX = 512


@functools.lru_cache(maxsize=4)
def _cached_manifest(path: str, mtime_ns: int, size: int) -> Manifest:
    return read_manifest(path)


def load_manifest(path: str) -> Manifest:
    """Read a manifest once per version of the file (browsing re-reads it on every click)."""
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_file():
        raise FileNotFoundError(f"{path}: manifest not found")
    stat = resolved.stat()
    return _cached_manifest(str(resolved), stat.st_mtime_ns, stat.st_size)


def _thumbnail(path: Path, side: int) -> np.ndarray:
    try:
        image = Image.fromarray(read_rgb(path))
    except ImageFileError:
        return np.full((side, side, 3), 96, dtype=np.uint8)
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return np.asarray(image)


def _caption(row: pd.Series, category: str) -> str:
    return f"{category} · {SHORT_NAMES[row['diagnosis']]}"


def browse_page(manifest_path: str, categories: list[str], diagnoses: list[str], page: int):
    """One page of thumbnails of the rows that pass the filters."""
    manifest = load_manifest(manifest_path)
    rows = filter_rows(manifest.table, categories, diagnoses)
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    page = min(max(int(page), 1), pages)
    shown = rows.iloc[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    labels = fst_categories(shown)
    gallery = [(_thumbnail(manifest.image_file(r["image_path"]), THUMBNAIL_PX), _caption(r, labels[i])) for i, r in shown.iterrows()]
    status = f"{len(rows)} of {len(manifest.table)} images match · page {page} of {pages}"
    return gallery, status, gr.update(value=page, maximum=pages), list(shown["image_id"])


def image_detail(manifest_path: str, image_ids: list[str], evt: gr.SelectData):
    """The selected image, large, with its lesion mask outlined, and all its metadata."""
    manifest = load_manifest(manifest_path)
    table = manifest.table
    row = table[table["image_id"] == image_ids[evt.index]].iloc[0]
    image = read_rgb(manifest.image_file(row["image_path"]))
    if row["mask_path"]:
        mask = read_mask(manifest.mask_file(row["mask_path"]))
        if mask.shape == image.shape[:2]:
            image = image.copy()
            image[mask & ~ndimage.binary_erosion(mask)] = (0, 255, 120)
    picture = Image.fromarray(image)
    if max(picture.size) < DETAIL_PX:
        scale = DETAIL_PX / max(picture.size)
        picture = picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.Resampling.NEAREST)
    fields = pd.DataFrame({"field": row.index, "value": ["" if pd.isna(v) else str(v) for v in row.values]})
    fields = fields[fields["value"] != ""]
    return np.asarray(picture), fields


def open_manifest(manifest_path: str):
    """Load a manifest and reset filters, heatmap and gallery to it; on failure say why and keep the current one."""
    try:
        manifest = load_manifest(manifest_path)
    except (ManifestError, FileNotFoundError, OSError) as exc:
        return (gr.skip(),) * 8 + (f"**Could not open this manifest.**\n\n```\n{exc}\n```",)
    table = manifest.table
    counts = fst_diagnosis_counts(table)
    categories, diagnoses = list(counts.index), list(counts.columns)
    heatmap = count_heatmap(counts, f"{Path(manifest_path).name}: {len(table)} images by skin type and diagnosis")
    gallery, status, page, ids = browse_page(manifest_path, categories, diagnoses, 1)
    return (
        manifest_path,
        gr.update(choices=categories, value=categories),
        gr.update(choices=diagnoses, value=diagnoses),
        heatmap,
        gallery,
        status,
        page,
        ids,
        "",
    )


def build_data_tab(default_manifest: str, store: ReviewStore):
    """Lay out the Data tab inside the current Blocks and wire its events (admins only).

    Returns the manifest box and the outputs of opening one, for the app to open the
    default manifest when an admin's page loads."""
    admin = only(store, "admin")
    current = gr.State(default_manifest)
    shown_ids = gr.State([])
    with gr.Row():
        path_box = gr.Textbox(value=default_manifest, label="Manifest (CSV or Parquet)", scale=5)
        open_button = gr.Button("Open", variant="primary", scale=1)
    message = gr.Markdown(elem_id="data-message")
    with gr.Row():
        fst_filter = gr.CheckboxGroup(label="Fitzpatrick skin type", elem_id="fst-filter")
        dx_filter = gr.CheckboxGroup(label="Diagnosis", elem_id="diagnosis-filter")
    heatmap = gr.Plot(label="FST × diagnosis", elem_id="data-heatmap")
    status = gr.Markdown(elem_id="data-status")
    with gr.Row():
        previous_button = gr.Button("◀ Previous", size="sm", elem_id="previous-page")
        page = gr.Number(value=1, precision=0, minimum=1, label="Page", elem_id="page-number")
        next_button = gr.Button("Next ▶", size="sm", elem_id="next-page")
    gallery = gr.Gallery(
        label="Images",
        columns=8,
        height="auto",
        format="png",
        allow_preview=False,
        buttons=[],
        elem_id="data-gallery",
    )
    with gr.Row():
        detail = gr.Image(label="Selected image (lesion mask outlined)", format="png", buttons=["fullscreen"], interactive=False)
        metadata = gr.Dataframe(headers=["field", "value"], label="Metadata", interactive=False, wrap=True, elem_id="image-metadata")

    opened = [current, fst_filter, dx_filter, heatmap, gallery, status, page, shown_ids, message]
    browsed = [gallery, status, page, shown_ids]

    @admin
    def on_open(path: str, username: str):
        return open_manifest(path)

    @admin
    def on_filter(path: str, categories: list[str], diagnoses: list[str], username: str):
        return browse_page(path, categories, diagnoses, 1)

    def turn(step: int):
        @admin
        def on_turn(path: str, categories: list[str], diagnoses: list[str], number: float, username: str):
            return browse_page(path, categories, diagnoses, number + step)

        return on_turn

    @admin
    def on_select(path: str, image_ids: list[str], evt: gr.SelectData, username: str):
        return image_detail(path, image_ids, evt)

    private = {"api_visibility": "private"}
    open_button.click(on_open, path_box, opened, api_name="data_open", **private)
    path_box.submit(on_open, path_box, opened, api_name="data_open_submit", **private)
    gr.on([fst_filter.input, dx_filter.input], on_filter, [current, fst_filter, dx_filter], browsed, api_name="data_filter", **private)
    browse = [current, fst_filter, dx_filter, page]
    page.submit(turn(0), browse, browsed, api_name="data_page", **private)
    previous_button.click(turn(-1), browse, browsed, api_name="data_previous", **private)
    next_button.click(turn(+1), browse, browsed, api_name="data_next", **private)
    gallery.select(on_select, [current, shown_ids], [detail, metadata], api_name="data_select", **private)
    return path_box, opened
