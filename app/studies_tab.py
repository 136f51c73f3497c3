"""The Studies tab (admins only): create a study, enrol reviewers, follow their work, manage their accounts, close
a study, export results."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from fairskin_core.manifest import ManifestError
from fairskin_core.measurement_cache import MeasurementCache
from fairskin_core.numbers import seed_number, whole_number
from fairskin_core.skin_type.corrections import SkinTypeCorrections
from review_data.accounts import AccountError, reset_password, reviewer_usernames, set_disabled
from review_data.activity import ACTIVITY_HEADERS, activity_table, study_overview
from review_data.export import export_study, ratings_table
from review_data.planning import assumed_components, pilot_components, plan_study
from review_data.sampling import SamplingError
from review_data.store import ReviewStore, workspace_studies_dir
from review_data.study import StudyError, add_reviewer, close_study, create_study, get_study, list_studies
from review_data.study_markdown import created_text

from .access import only, refused
from .downloads import download_folder
from .messages import STUDY_FIELDS, missing_input, plain, said
from .settings import AppSettings

REFUSALS = (StudyError, SamplingError, ManifestError, AccountError, FileNotFoundError, ValueError)
UNDERSTOOD = "I understand answers can no longer change"
GONE = "There is no study of that name: choose one from the list (reload the page to see the latest)."


def said_no(action: str, user: str, heading: str, why: str) -> str:
    """A section's refusal, said beside its button, and logged in one line as every user's mistake is."""
    refused(f"studies_tab.{action}", user, why)
    return f"**{heading}:** {why}"


def build_studies_tab(settings: AppSettings, store: ReviewStore, roots: list[Path]):
    """Lay out the Studies tab; returns the refresh function and its outputs for the page load.

    Only manifests and images inside ``roots`` are read; studies are made in ``settings``' workspace, exports written into
    ``settings.downloads`` (Gradio's temp folder)."""
    workspace, most = settings.workspace, settings.max_per_arm
    admin = only(store, "admin", STUDY_FIELDS)
    overview = gr.Dataframe(label="Studies", interactive=False, elem_id="studies-overview")
    with gr.Accordion("Create a study", open=False):
        with gr.Row():
            name = gr.Textbox(label="Name", placeholder="e.g. pilot-2026", elem_id="study-name")
            # No minimum or precision: Gradio would refuse or round what was typed in its own words; on_create says it in ours.
            n_per_arm = gr.Number(value=50, label="Images per arm")
            seed = gr.Number(value=0, label="Seed")
            practice = gr.Number(value=0, label="Practice images (seen first, answer shown, not counted)",
                                 elem_id="study-practice")
        real = gr.Textbox(label="Real manifest (path on the server)", elem_id="study-real")
        synthetic = gr.Textbox(label="Synthetic manifest (path on the server)", elem_id="study-synthetic")
        with gr.Row():  # attention and consistency checks, hidden among the study's images (review_data.attention_checks)
            repeats = gr.Number(value=0, label="Repeated images (each reviewer sees them twice, far apart: test–retest)",
                                elem_id="study-repeats")
            gold = gr.Textbox(label="Gold-standard manifest (optional: images of known truth, its source column; e.g. obvious "
                                    "synthetics)", elem_id="study-gold", scale=2)
            n_gold = gr.Number(value=0, label="Gold-standard images", elem_id="study-n-gold")
        ask_certainty = gr.Checkbox(label="Ask how sure each call is (a guess, likely, very sure): with the call, the 6-point score an "
                                          "MRMC analysis reads", elem_id="study-ask-certainty")
        with gr.Row():
            estimate = gr.Checkbox(label="Where the real manifest gives no skin type, estimate it from the image and match on it",
                                   elem_id="study-estimate-fst")
            accept_tones = gr.Checkbox(label="Create even if the skin tones of the arms differ strongly (reviewers may tell them apart "
                                             "by tone alone)", elem_id="study-accept-tones")
        with gr.Row(equal_height=True):
            create = gr.Button("Create study", variant="primary", scale=1)
            with gr.Column(scale=3):
                create_message = gr.Markdown(elem_id="create-message", elem_classes="section-message")
    with gr.Accordion("Plan a study: how many readers and images", open=False):
        gr.Markdown("The 95% intervals a design can expect, on the detection rate and on the reader-averaged AUC of realism. "
                    "Without a pilot the spread between readers and images is assumed; a pilot study (a few readers) replaces "
                    "the assumptions with measured values.")
        with gr.Row():
            plan_pilot = gr.Dropdown(label="Pilot study (optional)", choices=[], elem_id="plan-pilot")
            plan_detection = gr.Number(value=0.05, label="Detection rate: interval half-width", elem_id="plan-detection")
            plan_auc = gr.Number(value=0.05, label="AUC: interval half-width", elem_id="plan-auc")
        with gr.Row(equal_height=True):
            plan = gr.Button("Plan", scale=1, elem_id="plan-run")
            with gr.Column(scale=3):
                plan_message = gr.Markdown(elem_id="plan-message", elem_classes="section-message")
    with gr.Accordion("Enrol a reviewer", open=False):
        with gr.Row():
            enrol_study = gr.Dropdown(label="Study", choices=[], elem_id="enrol-study")
            username = gr.Dropdown(label="Username (an existing reviewer, or type a new one)", choices=[], allow_custom_value=True,
                                   elem_id="enrol-username")
            password = gr.Textbox(label="Password (new accounts only: at least 8 characters)", type="password", elem_id="enrol-password")
            group = gr.Textbox(label="Reviewer group (optional: e.g. dermatologist, resident)", elem_id="enrol-group")
        with gr.Row(equal_height=True):
            enrol = gr.Button("Enrol reviewer", scale=1)
            with gr.Column(scale=3):
                enrol_message = gr.Markdown(elem_id="enrol-message", elem_classes="section-message")
    with gr.Accordion("Reviewers at work", open=False):
        with gr.Row():
            activity_study = gr.Dropdown(label="Study", choices=[], scale=3, elem_id="activity-study")
            refresh_activity = gr.Button("Refresh", scale=1)
            with gr.Column(scale=2):
                activity_message = gr.Markdown(elem_id="activity-message", elem_classes="section-message")
        activity = gr.Dataframe(headers=ACTIVITY_HEADERS, label="Reviewers", interactive=False, elem_id="activity-table")
    with gr.Accordion("A reviewer's account", open=False):
        with gr.Row():
            account = gr.Dropdown(label="Reviewer", choices=[], elem_id="account-choice")
            new_password = gr.Textbox(label="New password (at least 8 characters)", type="password", elem_id="account-password")
        with gr.Row(equal_height=True):
            reset = gr.Button("Set new password")
            disable = gr.Button("Disable account (ratings are kept)", variant="stop")
            enable = gr.Button("Enable account")
            with gr.Column(scale=2):
                account_message = gr.Markdown(elem_id="account-message", elem_classes="section-message")
    with gr.Accordion("Close a study", open=False):
        gr.Markdown("Closing is for good: reviewers can no longer save or change any answer, and exports become final.")
        with gr.Row():
            close_choice = gr.Dropdown(label="Study", choices=[], elem_id="close-study")
            understood = gr.Checkbox(label=UNDERSTOOD, elem_id="close-understood")
        with gr.Row(equal_height=True):
            close = gr.Button("Close study", variant="stop", scale=1)
            with gr.Column(scale=3):
                close_message = gr.Markdown(elem_id="close-message", elem_classes="section-message")
    with gr.Row():
        export_choice = gr.Dropdown(label="Export a study", choices=[], scale=3, elem_id="export-study")
        export = gr.Button("Export CSV", scale=1)
        with gr.Column(scale=2):
            export_message = gr.Markdown(elem_id="export-message", elem_classes="section-message")
    files = gr.File(label="Ratings with the key, per-reviewer and study summaries, practice answers, hidden checks", file_count="multiple",
                    interactive=False, elem_id="export-files")

    def refreshed() -> dict:
        """The overview, and every picker of studies and reviewers."""
        names, reviewers = list_studies(store), reviewer_usernames(store)
        studies = {picker: gr.update(choices=names) for picker in (enrol_study, export_choice, activity_study, plan_pilot)}
        return {overview: study_overview(store), **studies, account: gr.update(choices=reviewers), username: gr.update(choices=reviewers),
                close_choice: gr.update(choices=list_studies(store, open_only=True))}

    # Each section answers beside its own button (a refusal included): never at the page's bottom, never as a pop-up.
    refresh_outputs = [overview, enrol_study, export_choice, activity_study, account, username, plan_pilot, close_choice]

    def not_created(why: str, user: str):
        return {create_message: said_no("on_create", user, "Study not created", why)}

    @admin
    def on_create(name_: str, real_: str, synthetic_: str, n: float, seed_: float, estimate_fst: bool, n_practice: float,
                  accept_tone_difference: bool, n_repeats: float, gold_: str, n_gold_: float, ask_certainty_: bool, request: gr.Request):
        missing = missing_input((name_, "give the study a name."), (real_, "give the path of the real manifest."),
                                (synthetic_, "give the path of the synthetic manifest."), (n, "give the number of images per arm."),
                                (seed_, "give a seed (any whole number)."),
                                (n_practice, "give the number of practice images (0 for none)."),
                                (n_repeats, "give the number of repeated images (0 for none)."),
                                (n_gold_, "give the number of gold-standard images (0 for none)."))
        if missing:
            return not_created(missing, request.username)
        name_ = name_.strip()
        if name_ in list_studies(store):
            return not_created(f"a study named **{plain(name_)}** exists already: choose another name.", request.username)
        try:
            study = create_study(store, workspace_studies_dir(workspace), name_, real_.strip(), synthetic_.strip(),
                                 n_per_arm=whole_number(n, "Images per arm", 1, most),
                                 seed=seed_number(seed_, "Seed"), estimate_fst=estimate_fst, allowed_roots=roots,
                                 n_practice=whole_number(n_practice, "Practice images", 0, most),
                                 accept_tone_difference=accept_tone_difference,
                                 n_repeats=whole_number(n_repeats, "Repeated images", 0, most),
                                 gold_manifest=(gold_ or "").strip() or None,
                                 n_gold=whole_number(n_gold_, "Gold-standard images", 0, most), ask_certainty=bool(ask_certainty_),
                                 cache=MeasurementCache.of_workspace(workspace), corrections=SkinTypeCorrections.of_workspace(workspace))
        except REFUSALS as exc:
            return not_created(plain(said(exc, STUDY_FIELDS)), request.username)
        return {**refreshed(), create_message: created_text(study)}

    @admin
    def on_enrol(study_name: str, username_: str, password_: str, group_: str, request: gr.Request):
        missing = missing_input((study_name, "choose a study first."), (username_, "give the reviewer's username."))
        if missing:
            return {enrol_message: said_no("on_enrol", request.username, "Not enrolled", missing)}
        try:
            add_reviewer(store, study_name, username_.strip(), password_ or None, group=group_ or "")
        except REFUSALS as exc:
            return {enrol_message: said_no("on_enrol", request.username, "Not enrolled", plain(exc))}
        in_group = f" (group: {plain(' '.join(group_.split()))})" if (group_ or "").strip() else ""
        return {**refreshed(), password: "",
                enrol_message: f"**{plain(username_.strip())}** now reviews **{plain(study_name)}**{in_group}."}

    @admin
    def on_plan(pilot: str | None, detection: float | None, auc: float | None, request: gr.Request):
        missing = missing_input((detection, "give the detection rate's half-width (e.g. 0.05)."),
                                (auc, "give the AUC's half-width (e.g. 0.05)."))
        if missing:
            return {plan_message: said_no("on_plan", request.username, "Not planned", missing)}
        try:
            components = pilot_components(ratings_table(store, pilot), pilot) if pilot else assumed_components()
            planned = plan_study(components, float(detection), float(auc))
        except REFUSALS as exc:
            return {plan_message: said_no("on_plan", request.username, "Not planned", plain(exc))}
        return {plan_message: f"{plain(planned.summary())}\n\n{planned.table.round(3).to_markdown(index=False)}"}

    @admin
    def on_activity(study_name: str, request: gr.Request):
        if not study_name:
            return {activity: pd.DataFrame(columns=ACTIVITY_HEADERS), activity_message: ""}
        if study_name not in list_studies(store):
            return {activity_message: GONE}
        return {activity: activity_table(store, study_name), activity_message: ""}

    def _not_a_reviewer(username_: str | None) -> str | None:
        """Why the chosen account cannot be managed here (none chosen, or not a reviewer's), else None."""
        if not username_:
            return "Choose a reviewer first."
        if username_ not in reviewer_usernames(store):  # disabled ones included: they are enabled here
            return "That is not a reviewer's account: choose a reviewer from the list."
        return None

    @admin
    def on_reset(username_: str, password_: str, request: gr.Request):
        why = _not_a_reviewer(username_) or missing_input((password_, "Give the new password."))
        if why:
            return {account_message: said_no("on_reset", request.username, "Password not changed", why)}
        try:
            reset_password(store, username_, password_)
        except REFUSALS as exc:
            return {account_message: said_no("on_reset", request.username, "Password not changed", plain(exc))}
        return {new_password: "", account_message: f"**{plain(username_)}** has a new password; the old one no longer works."}

    def toggled(disabled: bool):
        @admin
        def on_toggle(username_: str, study_name: str, request: gr.Request):
            why = _not_a_reviewer(username_)
            if why:
                return {account_message: said_no("on_toggle", request.username, "Not changed", why)}
            try:
                set_disabled(store, username_, disabled)
            except REFUSALS as exc:
                return {account_message: said_no("on_toggle", request.username, "Not changed", plain(exc))}
            now = ("disabled: it can no longer sign in, and a page it still has open can do nothing more; its ratings are kept "
                   "and still count" if disabled else "enabled again: it can sign in")
            return {**({activity: activity_table(store, study_name)} if study_name else {}),
                    account_message: f"**{plain(username_)}** is {now}."}
        return on_toggle

    @admin
    def on_close(study_name: str, confirmed: bool, request: gr.Request):
        why = missing_input((study_name, "Choose a study to close."))
        if not why and not confirmed:
            why = f"Tick “{UNDERSTOOD}” to close the study."
        if not why and study_name not in list_studies(store):
            why = GONE
        if why:
            return {close_message: said_no("on_close", request.username, "Not closed", why)}
        was_closed = get_study(store, study_name).closed_at
        study = close_study(store, study_name)
        now = (f"was closed already, at {study.closed_at[:19].replace('T', ' ')} UTC." if was_closed
               else "is closed: answers can no longer be saved or changed, and its exports are final.")
        return {**refreshed(), understood: False, close_message: f"**{plain(study_name)}** {now}"}

    @admin
    def on_export(study_name: str, request: gr.Request):
        why = missing_input((study_name, "Choose a study to export."))
        if why:
            return {export_message: said_no("on_export", request.username, "Not exported", why)}
        files_ = [str(p) for p in export_study(store, study_name, download_folder(settings, "export"))]
        return {files: files_, export_message: f"Exported **{plain(study_name)}**: {len(files_)} files below."}

    hidden = {"api_visibility": "undocumented"}
    create.click(on_create, [name, real, synthetic, n_per_arm, seed, estimate, practice, accept_tones, repeats, gold, n_gold,
                             ask_certainty],
                 [*refresh_outputs, create_message], api_name="study_create", **hidden)
    enrol.click(on_enrol, [enrol_study, username, password, group], [*refresh_outputs, password, enrol_message], api_name="study_enrol",
                **hidden)
    plan.click(on_plan, [plan_pilot, plan_detection, plan_auc], plan_message, api_name="study_plan", **hidden)
    activity_study.change(on_activity, activity_study, [activity, activity_message], api_name="study_activity", **hidden)
    refresh_activity.click(on_activity, activity_study, [activity, activity_message], api_name="study_activity_refresh", **hidden)
    reset.click(on_reset, [account, new_password], [new_password, account_message], api_name="study_reset_password", **hidden)
    disable.click(toggled(True), [account, activity_study], [activity, account_message], api_name="study_disable_reviewer",
                  **hidden)
    enable.click(toggled(False), [account, activity_study], [activity, account_message], api_name="study_enable_reviewer", **hidden)
    close.click(on_close, [close_choice, understood], [*refresh_outputs, understood, close_message], api_name="study_close",
                **hidden)
    export.click(on_export, export_choice, [files, export_message], api_name="study_export", **hidden)
    return refreshed, refresh_outputs
