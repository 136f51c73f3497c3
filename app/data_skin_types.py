"""The Data tab's skin-type section: estimate every image's type, audit the estimates by eye, correct them.

The estimates of a whole manifest come from `skin_type_table` (measured once per image: the
measurement cache). The audit view shows the images the method put in one type side by side,
with their confidence, so that a reader sees what a group is made of before trusting a
per-type figure; a wrong one is corrected in place (`SkinTypeCorrections`: by image content,
``fst_source = corrected``, never over an annotation).
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from fairskin_core.fst import ROMAN
from fairskin_core.measurement_cache import MeasurementCache
from fairskin_core.plots import count_heatmap
from fairskin_core.skin_type.corrections import SkinTypeCorrections
from fairskin_core.skin_type.manifest_estimates import DEFAULT_METHOD, METHODS, skin_type_report, skin_type_table

from .messages import plain
from .settings import AppSettings

UNKNOWN = "unknown"


def estimate_manifest(manifest, method: str, progress=None, cache: MeasurementCache | None = None,
                      corrections: SkinTypeCorrections | None = None) -> tuple:
    """The estimates of every image (measured once in ``cache``, as corrected in ``corrections``), the distribution (and
    confusion with annotations), and a summary in Markdown."""

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress((done, total), desc=f"estimating skin types ({method})")

    table = skin_type_table(manifest, method, progress=report, cache=cache, corrections=corrections)
    summary = skin_type_report(table)
    counts = pd.DataFrame({"images": summary["estimated_types"]}).T
    distribution = count_heatmap(counts, f"Estimated skin types ({method})", rows="", columns="estimated Fitzpatrick type")
    statuses = ", ".join(f"{n} {status}" for status, n in summary["statuses"].items())
    text = (f"**{summary['n_estimated']} of {summary['n_images']}** images given a type by the **{method}** method ({statuses}); "
            f"an empty type always has its reason. Share called V–VI: "
            f"{'—' if summary['share_v_vi'] is None else format(summary['share_v_vi'], '.1%')}.")
    confusion = None
    if "agreement" in summary:
        agreement = summary["agreement"]
        confusion = count_heatmap(pd.DataFrame(agreement["confusion"]).T, f"Annotated vs estimated skin type ({method})",
                                  rows="annotated", columns="estimated")
        text += (f" Against the annotated types: exact **{agreement['exact']:.1%}**, within one type **{agreement['within_one']:.1%}**, "
                 f"Cohen's κ (linear) {agreement['kappa_linear']:.2f}.")
    return table, distribution, confusion, text


def audit_rows(table: pd.DataFrame, group: str) -> pd.DataFrame:
    """The rows the method put in ``group`` (a Roman type, or "unknown"), most confident first."""
    if group == UNKNOWN:
        return table[table["fst_estimate"].isna()]
    chosen = table[table["fst_estimate"] == {v: k for k, v in ROMAN.items()}[group]]
    return chosen.sort_values("fst_confidence", ascending=False, na_position="last")


def _caption(row: pd.Series) -> str:
    """The estimate first (a thumbnail's caption is cut short), then the image's id."""
    if pd.isna(row["fst_estimate"]):
        return f"{row['status']} · {row['image_id']}"
    confidence = "corrected" if row["method"] == "corrected" else f"{row['fst_confidence']:.2f}"
    return f"{ROMAN[int(row['fst_estimate'])]} {confidence} · {row['image_id']}"


def estimate_was(row: pd.Series) -> str:
    """What a correction replaces, in words."""
    if pd.isna(row["fst_estimate"]):
        return f"unknown ({row['status']})"
    confidence = "" if pd.isna(row["fst_confidence"]) else f", {row['fst_confidence']:.2f}"
    return f"{ROMAN[int(row['fst_estimate'])]} ({row['method']}{confidence})"


def correct_estimate(manifest, row: pd.Series, fst: int, username: str, corrections: SkinTypeCorrections) -> str:
    """Record a correction of one image in ``corrections``; refused (ValueError) for an annotated image."""
    manifest_row = manifest.table[manifest.table["image_id"] == row["image_id"]].iloc[0]
    annotated = int(manifest_row["fst"]) if manifest_row["fst_source"] == "annotated" else None
    correction = corrections.correct(
        manifest.image_file(manifest_row["image_path"], manifest_row["image_root"]), fst, image_id=str(row["image_id"]),
        corrected_by=username, annotated_fst=annotated, estimate_was=estimate_was(row))
    return (f"**{plain(correction.image_id)}** is now type **{ROMAN[correction.fst]}** "
            f"(fst_source corrected; was {plain(correction.estimate_was)}).")


def build_skin_type_section(settings: AppSettings, current: gr.State, admin, load_manifest, thumbnail, roots: list[Path]) -> dict:
    """The accordion with the estimate, audit and correction controls, wired to the open manifest ``current``; estimates are
    measured once and corrected in ``settings``' workspace.

    Returns what must be cleared when another manifest is opened: each component and the value that clears it."""
    estimates = gr.State(None)
    audit_ids = gr.State([])
    selected = gr.State(None)
    with gr.Accordion("Skin type of every image: estimate, audit, correct", open=False):
        with gr.Row():
            method = gr.Radio(list(METHODS), value=DEFAULT_METHOD, label="Method (learned: the most accurate on annotated photographs)",
                              elem_id="skin-type-method", scale=3)
            estimate = gr.Button("Estimate every image", elem_id="estimate-skin-types", scale=1)
        summary = gr.Markdown(elem_id="skin-type-summary")
        with gr.Row():
            distribution = gr.Plot(label="Estimated types", elem_id="skin-type-distribution")
            confusion = gr.Plot(label="Annotated vs estimated (where annotated)", elem_id="skin-type-confusion")
        group = gr.Radio([*ROMAN.values(), UNKNOWN], label="Audit: the images put in one type, most confident first",
                         elem_id="audit-type")
        gallery = gr.Gallery(label="Audit", columns=8, height="auto", format="png", allow_preview=False, buttons=[],
                             elem_id="audit-gallery")
        with gr.Row():
            chosen = gr.Markdown("Click an image to correct its type.", elem_id="audit-chosen")
            corrected_type = gr.Radio(list(ROMAN.values()), label="Correct to type", elem_id="audit-correct-type")
            save = gr.Button("Save correction", elem_id="audit-save")
        said = gr.Markdown(elem_id="audit-message")

    def kept() -> tuple[MeasurementCache, SkinTypeCorrections]:
        """The workspace's measurement cache and skin-type corrections (opened for each use, as the estimates are)."""
        return MeasurementCache.of_workspace(settings.workspace), SkinTypeCorrections.of_workspace(settings.workspace)

    def audit_gallery(path: str, table: pd.DataFrame | None, group_: str | None) -> dict:
        """The audit gallery of ``group_`` and the ids of its images."""
        if table is None or not group_:
            return {gallery: [], audit_ids: []}
        manifest = load_manifest(path, roots)
        rows = audit_rows(table, group_).head(settings.audit_page)
        files = {r["image_id"]: manifest.image_file(r["image_path"], r["image_root"]) for _, r in manifest.table.iterrows()}
        return {gallery: [(thumbnail(files[r["image_id"]], 160), _caption(r)) for _, r in rows.iterrows()],
                audit_ids: list(rows["image_id"])}

    @admin
    def on_estimate(path: str, method_: str, group_: str | None, request: gr.Request, progress=gr.Progress()):
        table, figure, matrix, text = estimate_manifest(load_manifest(path, roots), method_, progress, *kept())
        return {estimates: table, distribution: figure, confusion: matrix, summary: text, **audit_gallery(path, table, group_),
                selected: None, chosen: "Click an image to correct its type.", said: ""}

    @admin
    def on_group(path: str, table: pd.DataFrame | None, group_: str | None, request: gr.Request):
        if table is None:
            return {gallery: [], audit_ids: [], said: "Estimate every image first."}
        audit = audit_gallery(path, table, group_)
        count = f"{len(audit_rows(table, group_))} images in {group_}; the first {len(audit[audit_ids])} shown." if group_ else ""
        return {**audit, said: count}

    @admin
    def on_pick(table: pd.DataFrame | None, ids: list[str], evt: gr.SelectData, request: gr.Request):
        row = table[table["image_id"] == ids[evt.index]].iloc[0]
        annotated = f"annotated type {ROMAN[int(row['fst'])]}" if row["fst_source"] == "annotated" else "no annotated type"
        return {selected: row["image_id"], chosen: f"**{plain(row['image_id'])}**: estimated {plain(estimate_was(row))}; {annotated}."}

    @admin
    def on_save(path: str, table: pd.DataFrame | None, image_id: str | None, fst_roman: str | None, method_: str, group_: str | None,
                request: gr.Request):
        if table is None or not image_id or not fst_roman:
            return {said: "Choose an image and the type it should be."}
        manifest = load_manifest(path, roots)
        try:
            cache, corrections = kept()
            text = correct_estimate(manifest, table[table["image_id"] == image_id].iloc[0],
                                    {v: k for k, v in ROMAN.items()}[fst_roman], request.username, corrections)
        except ValueError as exc:
            return {said: f"**Not corrected:** {plain(exc)}"}
        table = skin_type_table(manifest, method_, cache=cache, corrections=corrections)
        return {estimates: table, **audit_gallery(path, table, group_), said: text}

    hidden = {"api_visibility": "undocumented"}
    estimate.click(on_estimate, [current, method, group],
                   [estimates, distribution, confusion, summary, gallery, audit_ids, selected, chosen, said], api_name="data_skin_types",
                   **hidden)
    group.input(on_group, [current, estimates, group], [gallery, audit_ids, said], api_name="data_audit", **hidden)
    gallery.select(on_pick, [estimates, audit_ids], [selected, chosen], api_name="data_audit_pick", **hidden)
    save.click(on_save, [current, estimates, selected, corrected_type, method, group], [estimates, gallery, audit_ids, said],
               api_name="data_audit_save", **hidden)
    return {estimates: None, summary: "", distribution: None, confusion: None, gallery: [], audit_ids: [], selected: None, said: ""}
