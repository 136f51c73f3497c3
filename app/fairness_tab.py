"""The Fairness tab (admins): does synthetic data make the classifier fairer? Run the downstream experiment, or open a report.

Reports live in the workspace's ``downstream/`` folder (the tab's runs, and any `fairskin downstream
--out` written there); the tab reads nothing else. A run is a background job (`fairness_jobs`): the
page follows its progress and may cancel it.
"""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr
import pandas as pd

from fairskin_core.downstream.figures import report_figures
from fairskin_core.downstream.report import read_report, summary_lines
from fairskin_core.downstream.settings import STRATEGIES, ExperimentSettings, TrainingBudget
from fairskin_core.manifest import read_manifest
from fairskin_core.numbers import whole_number
from review_data.store import ReviewStore

from .access import only, refused
from .fairness_jobs import ExperimentRunner
from .messages import FAIRNESS_FIELDS, missing_input, plain, said
from .settings import AppSettings

NO_REPORT = "**No report:**"
FIGURES = {"auroc": "AUROC by skin type", "equal_opportunity": "Equal opportunity", "calibration": "Calibration",
           "calibration_dark": "Calibration, FST V–VI"}
TABLE_COLUMNS = ["model", "group", "n", "n_positive", "auroc", "auroc_low", "auroc_high", "sensitivity_at_specificity", "tpr", "fpr", "ece",
                 "not_computable"]


def report_folders(reports: Path) -> list[str]:
    """The reports in the folder ``reports`` (the workspace's ``downstream/``), newest first."""
    found = [p.parent for p in reports.glob("*/report.json")]
    return [p.name for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)]


def verdict_text(report: dict) -> str:
    """A report's verdict in Markdown: its summary lines, then its notes."""
    verdict = "\n".join(f"- {plain(line.strip())}" if line.startswith("  ") else f"\n**{plain(line)}**\n" for line in summary_lines(report))
    return verdict + "".join(f"\n\n_{plain(note)}_" for note in report.get("notes", []))


def build_fairness_tab(settings: AppSettings, store: ReviewStore, train_default: str, synthetic_default: str, roots: list[Path]):
    """Lay out the Fairness tab and wire its events; manifests are read only inside ``roots``, reports kept in the workspace's
    ``downstream/``. Returns the report picker, and what a page load shows of a running experiment (a function and its outputs)."""
    admin = only(store, "admin", FAIRNESS_FIELDS)
    reports = settings.workspace.folder("downstream")
    runner = ExperimentRunner(reports, roots, allow_download=not settings.workspace.offline)
    with gr.Row():
        picker = gr.Dropdown(label="Report", choices=[], scale=3, elem_id="fairness-report")
        show = gr.Button("Open report", scale=1, elem_id="fairness-open")
    with gr.Accordion("Run an experiment (trains every strategy × seed: minutes on a CPU)", open=False, elem_id="fairness-run-panel"):
        with gr.Row():
            train = gr.Textbox(value=train_default, label="Real training manifest (its train rows; val rows validate)", scale=2)
            test = gr.Textbox(label="Test manifest (never trained on)", scale=2)
            synthetic = gr.Textbox(value=synthetic_default, label="Synthetic manifest", scale=2)
            oracle = gr.Textbox(label="Oracle manifest (real V–VI images added back; optional)", scale=2)
        with gr.Row():
            strategies = gr.CheckboxGroup([s for s in STRATEGIES if s != "real-only"], value=["colour-augment", "mixed"],
                                          label="Strategies compared with real-only", scale=3)
            test_split = gr.Textbox(value="test", label="Test split ('' = every row)", scale=1)
            # No minimum, maximum or precision: Gradio would refuse or round in its own words; on_run says it in ours.
            seeds = gr.Number(value=3, label="Seeds", scale=1)
            steps = gr.Number(value=600, label="Steps per classifier", scale=1)
            audit = gr.Number(value=0, label="Tone audit: test images per skin type", scale=1)
        with gr.Row():
            drop = gr.Checkbox(label="Leave out test images seen in training (named in the report) instead of refusing the test set",
                               scale=3)
            run = gr.Button("Run experiment", variant="primary", elem_id="fairness-run", scale=1)
            cancel = gr.Button("Cancel", elem_id="fairness-cancel", scale=1)
    status = gr.Markdown(elem_id="fairness-status")
    follow = gr.Timer(2.0, active=False)
    verdict = gr.Markdown(elem_id="fairness-verdict")
    plots = {}
    with gr.Column(elem_id="fairness-figures"):
        for index in range(0, len(FIGURES), 2):
            with gr.Row():
                plots |= {name: gr.Plot(label=title) for name, title in list(FIGURES.items())[index : index + 2]}
    table = gr.Dataframe(pd.DataFrame(columns=TABLE_COLUMNS), label="Per model and skin-type group", interactive=False,
                         elem_id="fairness-table")
    outputs = [verdict, *plots.values(), table]

    def shown_report(name: str) -> dict:
        """The verdict, figures and table of the workspace's report ``name``."""
        report, by_group = read_report(reports / name)
        figures = report_figures(report)
        return {verdict: verdict_text(report), **{plot: figures[key] for key, plot in plots.items()},
                table: by_group[TABLE_COLUMNS].round(3)}

    @admin
    def on_open(name: str, request: gr.Request):
        """A report's verdict, figures and table; a missing or unknown name is said in the verdict's place (no pop-up, and
        no error badge on every figure)."""
        if not name:
            return {verdict: "Choose a report (or run an experiment first)."}
        if name not in report_folders(reports):
            return {verdict: f"No report named {plain(name)} in the workspace."}
        return shown_report(name)

    @admin
    def on_run(train_path: str, test_path: str, synthetic_path: str, oracle_path: str, chosen: list, split: str, n_seeds: float,
               n_steps: float, n_audit: float, drop_overlap: bool, shown_verdict: str, request: gr.Request):
        missing = missing_input((train_path, "give the path of the real training manifest."),
                                (test_path, "give the path of the test manifest."))
        if missing:
            return {verdict: f"{NO_REPORT} {missing}", status: "", follow: gr.Timer(active=False)}
        name = time.strftime("fairness-%Y%m%d-%H%M%S")
        try:
            settings = ExperimentSettings(train=train_path.strip(), test=test_path.strip(), synthetic=synthetic_path.strip() or None,
                                          oracle=oracle_path.strip() or None, tone_audit=whole_number(n_audit, "Tone audit", 0, 1000),
                                          strategies=("real-only", *chosen), seeds=whole_number(n_seeds, "Seeds", 1, 10),
                                          test_split=split.strip(),
                                          budget=TrainingBudget(steps=whole_number(n_steps, "Steps per classifier", 10, 1_000_000)),
                                          drop_overlapping_test_images=drop_overlap).checked()
            for path in filter(None, (settings.train, settings.test, settings.synthetic, settings.oracle)):
                read_manifest(path, allowed_roots=roots, check_files="none")  # a wrong path is said at once, not minutes later
            job = runner.start(settings, name)
        except ValueError as exc:
            refused("fairness_tab.on_run", request.username, exc)
            return {verdict: f"{NO_REPORT} {plain(said(exc, FAIRNESS_FIELDS))}", status: "", follow: gr.Timer(active=False)}
        stale = shown_verdict.startswith(NO_REPORT)  # the last run's refusal, not a report's verdict
        return {status: plain(job.describe()), follow: gr.Timer(active=True), **({verdict: ""} if stale else {})}

    @admin
    def on_follow(request: gr.Request):
        job = runner.job
        if job is None:
            return {status: "", follow: gr.Timer(active=False)}
        if job.state == "running":
            return {status: plain(job.describe())}
        if job.state == "failed":
            return {status: "", verdict: f"{NO_REPORT} {plain(job.error)}", follow: gr.Timer(active=False)}
        if job.state == "cancelled":
            return {status: plain(job.describe()), follow: gr.Timer(active=False)}
        return {status: plain(job.describe()), follow: gr.Timer(active=False),
                picker: gr.update(choices=report_folders(reports), value=job.name), **shown_report(job.name)}

    @admin
    def on_cancel(request: gr.Request):
        job = runner.cancel()
        return {status: plain(job.describe()) if job else "No experiment is running."}

    def on_page_load() -> dict:
        """A page opened (or reloaded) while an experiment runs follows it again."""
        job = runner.job
        running = job is not None and job.state == "running"
        return {follow: gr.Timer(active=running), **({status: plain(job.describe())} if running else {})}

    show.click(on_open, picker, outputs, api_name="fairness_open", api_visibility="undocumented")
    run.click(on_run, [train, test, synthetic, oracle, strategies, test_split, seeds, steps, audit, drop, verdict],
              [verdict, status, follow], api_name="fairness_run", api_visibility="undocumented")
    follow.tick(on_follow, None, [status, follow, picker, *outputs], api_name="fairness_follow", api_visibility="undocumented",
                show_progress="hidden")
    cancel.click(on_cancel, None, status, api_name="fairness_cancel", api_visibility="undocumented")
    return picker, on_page_load, [follow, status]
