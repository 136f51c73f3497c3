"""The Quality tab (admins): a synthetic set measured against a real one, per skin type."""

from __future__ import annotations

import base64
import io
from html import escape
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from fairskin_core.manifest import ManifestError
from fairskin_core.measurement_cache import MeasurementCache
from fairskin_core.metrics.figures import report_figures
from review_data.store import ReviewStore

from .access import only, refused
from .downloads import download_folder
from .messages import ask_for_missing, said
from .settings import AppSettings

# The summary's lines wrap within the box, continuing under the figures after a group's name ("  overall: ").
SUMMARY_CSS = """
.quality-summary { font-family: var(--font-mono); font-size: var(--text-sm); background: var(--code-background-fill);
                   border-radius: var(--radius-md); padding: var(--size-3) var(--size-4); }
.quality-summary div { white-space: pre-wrap; overflow-wrap: anywhere; padding-left: 12ch; text-indent: -12ch; }
"""


def _closest_pairs(report: dict) -> list[tuple[np.ndarray, str]]:
    """Each closest pair side by side: synthetic left, its nearest real training image right."""
    memorization = report["memorization"]
    return [
        (np.concatenate([_decoded(p["synthetic_thumbnail"]), _decoded(p["real_thumbnail"])], axis=1),
         f"{p['synthetic']} ↔ {p['real']} · {memorization['closest_by']} distance {p['distance']:.3g}")
        for p in memorization["closest_pairs"]
    ]


def _summary_html(complete: bool, lines: list[str]) -> str:
    """A report's summary lines (`summary_lines`), each its own wrapping line; texts from the data (ids, paths, notes) are
    escaped."""
    warning = "" if complete else f"<p><strong>⚠ {escape(lines.pop(0))}</strong> — listed in report.json.</p>"
    return warning + "<div class='quality-summary'>" + "".join(f"<div>{escape(line)}</div>" for line in lines) + "</div>"


def _decoded(png_base64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(png_base64))).convert("RGB"))


def build_quality_tab(settings: AppSettings, store: ReviewStore, real_default: str, synthetic_default: str, roots: list[Path]):
    """Lay out the Quality tab and wire its event; only manifests and images inside ``roots`` are read, reports are written
    into ``settings.downloads`` (Gradio's temp folder), features and measurements kept in the workspace's caches."""
    workspace = settings.workspace
    admin = only(store, "admin")
    with gr.Row():
        real = gr.Textbox(value=real_default, label="Real manifest", scale=3)
        synthetic = gr.Textbox(value=synthetic_default, label="Synthetic manifest", scale=3)
        run = gr.Button("Compute quality report", variant="primary", scale=1, elem_id="quality-run")
    summary = gr.HTML(elem_id="quality-summary", css_template=SUMMARY_CSS, js_on_load=None)
    names = ("groups", "fid_infinity", "fst_fidelity", "diversity", "memorization", "abcd_realism")
    plots = {}
    with gr.Column(elem_id="quality-figures"):
        for index in range(0, len(names), 2):
            with gr.Row():
                plots |= {name: gr.Plot(label=name.replace("_", " ")) for name in names[index : index + 2]}
    pairs = gr.Gallery(
        label="Closest synthetic ↔ real training pairs", columns=4, object_fit="contain", height="fit-content", format="png",
        allow_preview=True, buttons=[], elem_id="quality-pairs", elem_classes=["whole-captions"],
    )  # each pair and its caption whole, all 8 without scrolling (Gradio's default caps it at 55vh)
    files = gr.File(label="report.json, report.html and per-image CSVs", file_count="multiple", interactive=False, elem_id="quality-files")

    @admin
    def on_run(real_path: str, synthetic_path: str, request: gr.Request, progress=gr.Progress()):
        # The metrics import torch, pytorch-fid and LPIPS: loaded with the first report, not with the server.
        from fairskin_core.metrics.features import FeatureCache
        from fairskin_core.metrics.inception import InceptionWeightsError
        from fairskin_core.metrics.report import quality_report, summary_lines

        ask_for_missing((real_path, "Give the path of the real manifest."), (synthetic_path, "Give the path of the synthetic manifest."))
        try:
            report, folder = quality_report(
                real_path.strip(), synthetic_path.strip(), download_folder(settings, "quality"),
                progress=lambda f, what: progress(f, desc=what), allowed_roots=roots, feature_cache=FeatureCache.of_workspace(workspace),
                measurement_cache=MeasurementCache.of_workspace(workspace), allow_download=not workspace.offline,
            )
        except (ManifestError, FileNotFoundError, ValueError, InceptionWeightsError) as exc:
            refused("quality_tab.on_run", request.username, exc)
            return {summary: f"<p><strong>No report:</strong> {escape(said(exc))}</p>", **dict.fromkeys(plots.values()), pairs: [],
                    files: None}
        figures = report_figures(report)
        return {summary: _summary_html(report["complete"], summary_lines(report)), **{plots[name]: figures[name] for name in names},
                pairs: _closest_pairs(report), files: [str(p) for p in sorted(folder.iterdir())]}

    run.click(on_run, [real, synthetic], [summary, *plots.values(), pairs, files], api_name="quality_run", api_visibility="undocumented")
