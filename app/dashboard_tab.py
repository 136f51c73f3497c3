"""The Review dashboard tab (admins only): a study's statistics and figures, live from the database."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from review_data.attention_checks import GOLD_PASS, reader_checks
from review_data.export import check_answers_table, ratings_table
from review_data.figures import dashboard_figures
from review_data.stats import MIN_AGREEMENT_IMAGES, study_report
from review_data.store import ReviewStore
from review_data.study import StudyError, get_study, list_studies

from .access import only
from .messages import plain

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


def _share(value: dict) -> str:
    if value.get("estimate") is None:
        return f"— ({value.get('note') or 'no data'})"
    return f"{value['estimate']:.1%} (95% CI {value['ci_low']:.1%}–{value['ci_high']:.1%}, {value['successes']}/{value['n']})"


def _agreement(value: dict) -> str:
    """A coefficient with its interval and the images it rests on, or why it is not estimable."""
    images = f"{value['n_images']} image{'' if value['n_images'] == 1 else 's'} rated by ≥ 2 reviewers"
    if value["estimate"] is not None:
        return f"{value['estimate']:.2f} (95% CI {value['ci_low']:.2f}–{value['ci_high']:.2f}; {images})"
    if value["n_images"] < MIN_AGREEMENT_IMAGES:
        return f"not estimable: {images} (at least {MIN_AGREEMENT_IMAGES} needed)"
    return f"not estimable: {images}; {value['note']}"


def _mrmc(value: dict) -> str:
    """The MRMC AUC, its interval (readers and cases both random) and what it rests on, or why there is none."""
    if value["estimate"] is None:
        return value["note"]
    interval = (f"95% CI {value['ci_low']:.2f}–{value['ci_high']:.2f}, df {value['df']:.1f}" if value.get("ci_low") is not None
                else "no interval")
    note = f"; {value['note']}" if value.get("note") else ""
    return (f"{value['estimate']:.2f} ({interval}; {value['n_readers']} reviewers × {value['n_cases']} images; "
            f"Obuchowski–Rockette with Hillis df{note})")


def headline(report: dict) -> str:
    """The study's main numbers in a few lines of Markdown, with the caveats that go with them."""
    if not report["n_ratings"]:
        return "No ratings yet."
    detection = report["overall"]["detection"]
    realism = report["overall"]["realism"]
    agreement = report["agreement"]
    fooled = detection["synthetic_judged_real"]
    auc = realism.get("auc", {})
    lines = [
        f"**{report['n_ratings']} ratings** by {report['n_reviewers']} reviewers of {report['n_images']} images. "
        "**Synthetic is the positive class.**",
        "",
        f"- Accuracy: {_share(detection['accuracy'])}; exact binomial test against 50%: p = {detection['binomial_test']['p_value']:.3g}",
        f"- Sensitivity (synthetic called synthetic): {_share(detection['sensitivity'])}",
        f"- Specificity (real called real): {_share(detection['specificity'])}",
        f"- Synthetic images judged real: {_share(fooled)} — target over {fooled['target']:.0%}: "
        + ("met (whole CI above)" if fooled["ci_above_target"]
           else "point estimate above, CI not" if fooled["above_target"] else "not met"),
        f"- Equivalence (TOST, accuracy within 50% ± {detection['equivalence']['margin']:.0%}): "
        + ("shown" if detection["equivalence"]["equivalent"] else "not shown")
        + f", p = {detection['equivalence']['p_value']:.3g}, power {detection['equivalence']['power']:.0%}",
    ]
    if auc.get("estimate") is not None:
        lines.append(f"- Realism as a detector of real images: AUC {auc['estimate']:.2f} (95% CI {auc['ci_low']:.2f}–{auc['ci_high']:.2f})")
    lines.append(f"- Reader-averaged AUC of telling synthetic from real by realism (MRMC): {_mrmc(report['mrmc_auc'])}")
    if "mrmc_auc_certainty" in report:  # the study asks how sure each call is
        lines.append("- Reader-averaged AUC of telling synthetic from real by the call and its certainty (MRMC): "
                     f"{_mrmc(report['mrmc_auc_certainty'])}")
    for key, name in (("calls", "Fleiss' κ on the calls"), ("realism", "Krippendorff's α (ordinal) on realism")):
        lines.append(f"- {name}: {_agreement(agreement[key])}")
    notes = "\n\n".join(f"> {note}" for note in report["notes"][1:])  # one quote block per caveat
    return "\n".join(lines) + "\n\n" + notes


def checks_text(n_repeats: int, n_gold: int, readers: pd.DataFrame) -> str:
    """Each reader's hidden checks in a Markdown table: test–retest on the repeats, gold-standard images right, a flag."""
    if not n_repeats and not n_gold:
        return ("*Attention and consistency:* this study has no hidden checks (a new study can have repeated and gold-standard "
                "images: Studies tab, Create a study).")
    head = (f"**Attention and consistency** ({n_repeats} repeated and {n_gold} gold-standard images hidden in each reviewer's "
            f"sequence; in no statistic above; a reviewer answering under {GOLD_PASS:.0%} of the gold-standard images right is "
            "flagged)")
    if readers.empty:
        return f"{head}: no check answered yet."

    def share(value) -> str:
        return "—" if pd.isna(value) else f"{value:.0%}"

    shown = pd.DataFrame({
        "reviewer": readers["reviewer"].map(plain),
        "repeats rated twice": readers["repeats_answered"],
        "same call": readers["repeat_call_agreement"].map(share),
        "realism within 1": readers["repeat_realism_within_1"].map(share),
        "mean realism change": ["—" if pd.isna(v) else f"{v:.2f}" for v in readers["repeat_realism_mean_abs_difference"]],
        "gold right": [f"{right} of {n}" for right, n in zip(readers["gold_correct"], readers["gold_answered"], strict=True)],
        "flag": readers["flag"].map(lambda flag: f"**{flag}**" if flag else ""),
    })
    return f"{head}\n\n{shown.to_markdown(index=False, disable_numparse=True)}"


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
        return {summary: f"{headline(report)}\n\n*What reviewers saw:* {plain(chosen.shown_size)}.",
                checks: checks_text(chosen.n_repeats, chosen.n_gold, readers), **{plot: figures[name] for name, plot in plots.items()}}

    refresh.click(on_refresh, study, [summary, checks, *plots.values()], api_name="dashboard_refresh", api_visibility="undocumented")

    def studies():
        names = list_studies(store)
        return {study: gr.update(choices=names, value=names[0] if names else None)}

    return studies, study
