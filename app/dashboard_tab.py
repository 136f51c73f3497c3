"""The Review dashboard tab (admins only): a study's statistics and figures, live from the database."""

from __future__ import annotations

import gradio as gr

from review_data.attention_checks import reader_checks
from review_data.export import check_answers_table, ratings_table
from review_data.figures import dashboard_figures
from review_data.stats import study_report
from review_data.store import ReviewStore
from review_data.study import StudyError, get_study, list_studies
from review_data.study_markdown import checks_text, summary_text

from .access import only

FIGURES = (
    ("detection_by_reviewer", "Detection per reviewer"),
    ("detection_by_fst", "Detection per skin type"),
    ("realism_by_fst", "Realism per skin type"),
    ("detection_by_fst_group", "Detection per Fitzpatrick group"),
    ("detection_by_diagnosis", "Detection per diagnosis"),
    ("realism_by_arm", "Realism per arm"),
    ("realism_roc", "Realism as a detector (ROC)"),
    ("abcd_answers", "ABCD checklist"),
    ("fooling_rate", "Per-image fooling rate"),
    ("time_per_image", "Time per image"),
)


def build_dashboard_tab(store: ReviewStore):
    """Lay out the dashboard; returns, for the page load, the function that fills the study picker, and the picker."""
    admin = only(store, "admin")
    with gr.Row():
        study = gr.Dropdown(label="Study", choices=[], scale=4, elem_id="dashboard-study")
        refresh = gr.Button("Refresh", variant="primary", scale=1)
    summary = gr.Markdown(elem_id="dashboard-summary")
    checks = gr.Markdown(elem_id="dashboard-checks")
    plots = {}
    for index in range(0, len(FIGURES), 2):
        with gr.Row():
            plots |= {name: gr.Plot(label=title) for name, title in FIGURES[index : index + 2]}

    @admin
    def on_refresh(study_name: str, request: gr.Request):
        if not study_name:
            raise gr.Error("Choose a study.", print_exception=False)
        try:
            report = study_report(ratings_table(store, study_name))
            chosen = get_study(store, study_name)
        except StudyError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        figures = dashboard_figures(report)
        readers = reader_checks(check_answers_table(store, study_name))
        return {summary: summary_text(report, chosen),
                checks: checks_text(chosen.n_repeats, chosen.n_gold, readers), **{plot: figures[name] for name, plot in plots.items()}}

    refresh.click(on_refresh, study, [summary, checks, *plots.values()], api_name="dashboard_refresh", api_visibility="undocumented")

    def studies():
        names = list_studies(store)
        return {study: gr.update(choices=names, value=names[0] if names else None)}

    return studies, study
