"""The Data tab: browse any manifest by skin type and diagnosis, see each image's metadata.

What the tab shows is made by views that name each value (`open_manifest`, `browse_page`, `image_detail`,
`measure_manifest`: ``{"status": …, "gallery": …}``); the tab hands them to Gradio by the component that shows each name."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image

from fairskin_core.analysis.agreement import agreement_report
from fairskin_core.analysis.fst_mapping import KINYANJUI
from fairskin_core.analysis.ita import chardon_category
from fairskin_core.analysis.pipeline import ImageAnalysis, analyse_image, analyse_manifest
from fairskin_core.analysis.tone_report import format_distribution, tone_distribution
from fairskin_core.diagnoses import SHORT_NAMES
from fairskin_core.fst import ROMAN
from fairskin_core.images import ImageFileError, read_mask, read_rgb
from fairskin_core.manifest import Manifest, ManifestError, read_manifest
from fairskin_core.measurement_cache import MeasurementCache
from fairskin_core.plots import count_heatmap, ita_by_fst, ita_histogram
from fairskin_core.summary import filter_rows, fst_categories, fst_diagnosis_counts
from fairskin_core.workspace import Workspace, refuse_private
from review_data.store import ReviewStore

from .access import only, refused
from .data_skin_types import build_skin_type_section
from .messages import plain
from .outline import at_shown_size, outlined, shown_size
from .settings import AppSettings

THUMBNAIL_PX = 192
OPEN_FAILURES = (ValueError, OSError)  # a ManifestError, a file that is no manifest, one missing or unreadable


@functools.lru_cache(maxsize=4)
def _cached_manifest(path: str, version: tuple[int, int] | None, roots: tuple[Path, ...] | None) -> Manifest:
    return read_manifest(path, allowed_roots=None if roots is None else list(roots))


def load_manifest(path: str, roots: list[Path] | None = None) -> Manifest:
    """Read a manifest once per version of the file (browsing re-reads it on every click).

    ``roots``: the folders the app may read; the manifest and all its images must lie in them."""
    refuse_private(path, "a manifest")  # before any look at the path (a NUL in it, a database named by it)
    resolved = Path(path).expanduser().resolve()
    stat = resolved.stat() if resolved.is_file() else None
    version = (stat.st_mtime_ns, stat.st_size) if stat else None
    return _cached_manifest(str(resolved), version, None if roots is None else tuple(roots))


def _thumbnail(path: Path, side: int) -> np.ndarray:
    try:
        image = Image.fromarray(read_rgb(path))
    except ImageFileError:
        return np.full((side, side, 3), 96, dtype=np.uint8)
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return np.asarray(image)


def _caption(row: pd.Series, category: str) -> str:
    return f"{category} · {SHORT_NAMES[row['diagnosis']]}"


def _page_within(requested: float | None, pages: int) -> tuple[int, str]:
    """The page to show for what was typed or clicked, and, when that page does not exist, why in a few words."""
    if requested is None:
        return 1, "type a page number; showing the first"
    page = min(max(math.floor(requested), 1), pages)
    if requested != page:
        limit = "the first" if requested < 1 else ("the last" if math.floor(requested) > pages else "shown instead")
        return page, f"there is no page {requested:.15g}; page {page} is {limit}"
    return page, ""


def browse_page(manifest_path: str, categories: list[str], diagnoses: list[str], page: float | None, roots: list[Path] | None = None,
                page_size: int = AppSettings.page_size):
    """One page of ``page_size`` thumbnails of the rows that pass the filters; a page that does not exist is brought within range,
    and said so."""
    manifest = load_manifest(manifest_path, roots)
    rows = filter_rows(manifest.table, categories, diagnoses)
    pages = max(1, math.ceil(len(rows) / page_size))
    page, note = _page_within(page, pages)
    shown = rows.iloc[(page - 1) * page_size : page * page_size]
    labels = fst_categories(shown)
    gallery = [
        (_thumbnail(manifest.image_file(r["image_path"], r["image_root"]), THUMBNAIL_PX), _caption(r, labels[i]))
        for i, r in shown.iterrows()
    ]
    status = f"{len(rows)} of {len(manifest.table)} images match · page {page} of {pages}" + (f" · **{note}**" if note else "")
    return {"gallery": gallery, "status": status, "page": gr.update(value=page), "image_ids": list(shown["image_id"])}


def learned_summary(record: dict) -> str:
    """The learned estimator's verdict on one image, in Markdown."""
    if record["fst_estimate"] is None:
        return f"**Learned estimate: none ({record['status']}).** {record['message']}"
    probabilities = " ".join(f"{ROMAN[k]} {record[f'p_fst{k}']:.2f}" for k in ROMAN)
    return (f"**Learned estimate: FST {ROMAN[record['fst_estimate']]}**, confidence {record['fst_confidence']:.2f} "
            f"(probabilities {probabilities})")


def analysis_summary(analysis: ImageAnalysis, row: pd.Series, learned: dict | None = None) -> str:
    """What was measured on one image, next to what the manifest says, in Markdown."""
    annotated = f"{ROMAN[int(row['fst'])]} ({row['fst_source']})" if pd.notna(row["fst"]) else (
        f"group {row['fst_group']}" if row["fst_group"] else "unknown")
    lines = [learned_summary(learned)] if learned else []
    if analysis.status == "ok":
        lines.append(
            f"**ITA {analysis.ita:.1f}°** ({chardon_category(analysis.ita)}; spread {analysis.ita_spread:.1f}°) → "
            f"**FST {ROMAN[analysis.fst]}** by Kinyanjui, confidence {analysis.fst_confidence:.2f} · annotated: **{annotated}**"
        )
    else:
        lines.append(f"**No skin-tone estimate: {analysis.status}.** {analysis.message} · annotated: {annotated}")
    lines.append(f"Healthy skin used: {analysis.skin_fraction:.0%} of the image · lesion mask: {analysis.lesion}")
    abcd = analysis.abcd
    if abcd:
        size = f"{abcd.diameter_mm:.1f} mm ({abcd.diameter_px:.0f} px)" if abcd.diameter_mm else f"{abcd.diameter_px:.0f} px"
        colours = ", ".join(c.replace("_", " ") for c in abcd.colours) or "none"
        lines.append(
            f"**ABCD** · A asymmetry {abcd.asymmetry:.2f} · B compactness {abcd.border_compactness:.2f}, fractal dimension "
            f"{abcd.border_fractal_dimension:.2f} · C {abcd.n_colours} colours ({colours}), spread {abcd.colour_spread:.1f} · D {size}"
        )
    return "\n\n".join(lines)


def image_detail(manifest_path: str, image_ids: list[str], evt: gr.SelectData, roots: list[Path] | None = None,
                 cache: MeasurementCache | None = None) -> dict:
    """The selected image with its lesion outlined ("detail"), the healthy skin used for ITA ("skin"), the measurements
    ("analysis", the learned estimate kept in ``cache``) and metadata."""
    from fairskin_core.skin_type.estimator import estimate_files  # torch: with the first image opened, not with the server

    manifest = load_manifest(manifest_path, roots)
    table = manifest.table
    row = table[table["image_id"] == image_ids[evt.index]].iloc[0]
    file = manifest.image_file(row["image_path"], row["image_root"])
    image = read_rgb(file)
    mask = read_mask(manifest.mask_file(row["mask_path"], row["image_root"])) if row["mask_path"] else None
    resized_from = ""
    if mask is not None and mask.shape != image.shape[:2]:
        resized_from = f" ({mask.shape[1]}x{mask.shape[0]} px, resized to the image's {image.shape[1]}x{image.shape[0]})"
        mask = at_shown_size(mask, (image.shape[1], image.shape[0]))
    analysis = analyse_image(
        image, mask, pixel_size_mm=None if pd.isna(row["pixel_size_mm"]) else float(row["pixel_size_mm"]), keep_masks=True
    )
    analysis.lesion += resized_from
    lesion = mask if mask is not None else analysis.lesion_mask  # a given mask at its full detail, not the analysis's copy
    size = shown_size(image.shape)
    skin_view = at_shown_size(image, size)
    if analysis.skin_selection is not None:
        ignored = ~at_shown_size(analysis.skin_selection.mask, size)
        skin_view[ignored] = (skin_view[ignored] * 0.2).astype(np.uint8)  # what ITA ignores, dimmed
    fields = pd.DataFrame({"field": row.index, "value": ["" if pd.isna(v) else str(v) for v in row.values]})
    fields = fields[fields["value"] != ""]
    learned = estimate_files([file], cache=cache)[0]
    return {"detail": outlined(image, lesion), "skin": skin_view, "analysis": analysis_summary(analysis, row, learned), "metadata": fields}


class MeasuredManifests:
    """The skin tone of every image of the last few manifests measured, per version of each file (measuring 600 images
    takes ~10 s), each image measured once in ``workspace``'s measurement cache (none without). One belongs to each admin
    app, made when it is built."""

    KEPT = 4

    def __init__(self, workspace: Workspace | None = None) -> None:
        self.workspace = workspace
        self._tables: dict[tuple, pd.DataFrame] = {}

    def table(self, manifest: Manifest, progress=None) -> pd.DataFrame:
        """`analyse_manifest` of ``manifest``, measured once per version of its file."""
        stat = manifest.path.stat()
        key = (str(manifest.path), stat.st_mtime_ns, stat.st_size)
        if key not in self._tables:
            if len(self._tables) >= self.KEPT:
                self._tables.clear()

            def report(done: int, total: int) -> None:
                if progress is not None:
                    progress((done, total), desc="measuring skin tone")

            cache = MeasurementCache.of_workspace(self.workspace) if self.workspace else None
            self._tables[key] = analyse_manifest(manifest, progress=report, cache=cache)
        return self._tables[key]


def measure_manifest(manifest_path: str, measured: MeasuredManifests, progress=None, roots: list[Path] | None = None) -> dict:
    """Skin tone of every image: ITA per annotated type ("ita"), the confusion matrix ("types") and the agreement figures."""
    table = measured.table(load_manifest(manifest_path, roots), progress)
    statuses = ", ".join(f"{n} {status}" for status, n in table["status"].value_counts().items())
    distribution = tone_distribution(table)
    if not table["fst"].notna().any():
        figure = ita_histogram(distribution, KINYANJUI.thresholds, "Kinyanjui")
        estimated = pd.DataFrame({"images": distribution["estimated_types"]}).T
        bars = count_heatmap(estimated, "Estimated skin types (Kinyanjui)", rows="", columns="estimated Fitzpatrick type")
        summary = (f"{len(table)} images measured ({statuses}). No annotated skin types to compare with: the distribution "
                   "of measured ITA and of the types it gives is shown instead.\n\n"
                   + format_distribution(distribution).replace("\n", "  \n"))
        return {"ita": figure, "types": bars, "agreement": summary}
    figure = ita_by_fst(table, KINYANJUI.thresholds, "Kinyanjui")
    report = agreement_report(table)
    confusion = pd.DataFrame(report["confusion"]).T
    heatmap = count_heatmap(confusion, "Annotated vs estimated skin type (Kinyanjui)", rows="annotated", columns="estimated")
    summary = (
        f"{len(table)} images measured ({statuses}). Against the annotated types: exact agreement "
        f"**{report['exact']:.1%}**, within one type **{report['within_one']:.1%}**, Cohen's κ (linear) {report['kappa_linear']:.2f}."
    )
    return {"ita": figure, "types": heatmap, "agreement": summary}


def why_not_opened(path: str, exc: Exception) -> str:
    """Why a manifest did not open, in the user's words, without repeating the path the message names already."""
    if isinstance(exc, ManifestError) and len(exc.issues) == 1 and exc.issues[0].location == "file":
        return exc.issues[0].message  # about the whole file: its "1 problem: file, field '-'" says nothing more
    reason = str(exc)
    if "\x00" in path:
        return reason
    for named in (str(getattr(exc, "source", "")), str(Path(path).expanduser().resolve()), path):
        if named and reason.startswith(f"{named}: "):
            return reason[len(named) + 2 :]
    return reason


def _not_opened(path: str, reason: str) -> str:
    return f"**Could not open {plain(path) or 'a manifest'}:** {plain(reason)}"


def open_manifest(manifest_path: str, roots: list[Path] | None = None, page_size: int = AppSettings.page_size) -> dict:
    """Load a manifest and reset the filters, heatmap and gallery (its first page of ``page_size``) to it; on failure only the
    "message" says why, and the current one stays."""
    try:
        manifest = load_manifest(manifest_path, roots)
    except OPEN_FAILURES as exc:
        return {"message": _not_opened(manifest_path, why_not_opened(manifest_path, exc))}
    table = manifest.table
    counts = fst_diagnosis_counts(table)
    categories, diagnoses = list(counts.index), list(counts.columns)
    return {
        "manifest": manifest_path,
        "type_filter": gr.update(choices=categories, value=categories),
        "diagnosis_filter": gr.update(choices=diagnoses, value=diagnoses),
        "heatmap": count_heatmap(counts, f"{Path(manifest_path).name}: {len(table)} images by skin type and diagnosis"),
        **browse_page(manifest_path, categories, diagnoses, 1, roots, page_size),
        "message": "",
    }


def build_data_tab(settings: AppSettings, default_manifest: str, store: ReviewStore, roots: list[Path], measured: MeasuredManifests):
    """Lay out the Data tab inside the current Blocks and wire its events (admins only), pages as long as ``settings`` say.

    Only manifests and images inside ``roots`` are read; the skin tone of a whole manifest is kept in ``measured``.
    Returns the manifest box, the function that opens a manifest, and its outputs, for the app to open the default
    manifest when an admin's page loads."""
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
        # No minimum, maximum or precision: Gradio would refuse or round what was typed in its own words; browse_page says it in ours.
        page = gr.Number(value=1, label="Page", elem_id="page-number")
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
        detail = gr.Image(label="Selected image (lesion outlined)", format="png", buttons=["fullscreen"], interactive=False,
                          elem_id="data-detail")
        skin_view = gr.Image(label="Healthy skin used for ITA (the rest dimmed)", format="png", buttons=["fullscreen"], interactive=False)
    analysis = gr.Markdown(elem_id="image-analysis")
    metadata = gr.Dataframe(headers=["field", "value"], label="Metadata", interactive=False, wrap=True, elem_id="image-metadata")
    with gr.Accordion("Skin colour (ITA) of the whole manifest", open=False):
        measure = gr.Button("Measure skin colour (ITA, and the type Kinyanjui's thresholds give) of every image",
                            elem_id="measure-manifest")
        agreement = gr.Markdown(elem_id="manifest-agreement")
        with gr.Row():
            ita_plot = gr.Plot(label="ITA (by annotated type where the manifest has types)", elem_id="manifest-ita")
            confusion_plot = gr.Plot(label="Confusion matrix (or estimated types)", elem_id="manifest-types")

    skin_types_cleared = build_skin_type_section(settings, current, admin, load_manifest, _thumbnail, roots)

    showing = {"manifest": current, "type_filter": fst_filter, "diagnosis_filter": dx_filter, "heatmap": heatmap, "gallery": gallery,
               "status": status, "page": page, "image_ids": shown_ids, "message": message, "detail": detail, "skin": skin_view,
               "analysis": analysis, "metadata": metadata, "ita": ita_plot, "types": confusion_plot, "agreement": agreement}

    def shown(view: dict) -> dict:
        """A view's values by the component that shows each of its names."""
        return {showing[name]: value for name, value in view.items()}

    def opened_view(path: str) -> dict:
        """What opening ``path`` shows (for the page load)."""
        return shown(open_manifest(path, roots, settings.page_size))

    opened = [current, fst_filter, dx_filter, heatmap, gallery, status, page, shown_ids, message]
    browsed = [gallery, status, page, shown_ids]
    # What was shown of the previous manifest must not pass for this one's: cleared on opening another.
    cleared = {detail: None, skin_view: None, analysis: "", metadata: None, ita_plot: None, confusion_plot: None, agreement: "",
               **skin_types_cleared}

    @admin
    def on_open(path: str, open_path: str, request: gr.Request):
        """Open the typed manifest; if it cannot be, say which and why, and which one is still shown; the box keeps what was
        typed, to be corrected (a long path with one typo is not retyped)."""
        path = (path or "").strip()
        reason = "no path given; type the path of a manifest (CSV or Parquet) on the server" if not path else ""
        if path:
            try:
                load_manifest(path, roots)  # read here to say why it fails; open_manifest then finds it cached
            except OPEN_FAILURES as exc:
                reason = why_not_opened(path, exc)
        if reason:
            refused("data_tab.on_open", request.username, f"{path}: {reason}" if path else reason)
            return {message: f"{_not_opened(path, reason)}<br>Still showing {plain(open_path)}."}
        return {**opened_view(path), **cleared, path_box: path}

    @admin
    def on_filter(path: str, categories: list[str], diagnoses: list[str], request: gr.Request):
        return shown(browse_page(path, categories, diagnoses, 1, roots, settings.page_size))

    def turn(step: int):
        @admin
        def on_turn(path: str, categories: list[str], diagnoses: list[str], number: float | None, request: gr.Request):
            return shown(browse_page(path, categories, diagnoses, None if number is None else number + step, roots, settings.page_size))

        return on_turn

    @admin
    def on_select(path: str, image_ids: list[str], evt: gr.SelectData, request: gr.Request):
        return shown(image_detail(path, image_ids, evt, roots, MeasurementCache.of_workspace(settings.workspace)))

    @admin
    def on_measure(path: str, request: gr.Request, progress=gr.Progress()):
        return shown(measure_manifest(path, measured, progress, roots))

    hidden = {"api_visibility": "undocumented"}
    open_button.click(on_open, [path_box, current], [*opened, *cleared, path_box], api_name="data_open", **hidden)
    path_box.submit(on_open, [path_box, current], [*opened, *cleared, path_box], api_name="data_open_submit", **hidden)
    gr.on([fst_filter.input, dx_filter.input], on_filter, [current, fst_filter, dx_filter], browsed, api_name="data_filter", **hidden)
    browse = [current, fst_filter, dx_filter, page]
    page.submit(turn(0), browse, browsed, api_name="data_page", **hidden)
    previous_button.click(turn(-1), browse, browsed, api_name="data_previous", **hidden)
    next_button.click(turn(+1), browse, browsed, api_name="data_next", **hidden)
    gallery.select(on_select, [current, shown_ids], [detail, skin_view, analysis, metadata], api_name="data_select", **hidden)
    measure.click(on_measure, current, [ita_plot, confusion_plot, agreement], api_name="data_measure", **hidden)
    return path_box, opened_view, opened
