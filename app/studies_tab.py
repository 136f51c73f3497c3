"""The Studies tab (admins only): create a study, enrol reviewers, see progress, export results."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import gradio as gr
import pandas as pd

from fairskin_core.manifest import ManifestError
from review_data.accounts import AccountError
from review_data.export import export_study
from review_data.sampling import MATCH_ON, SamplingError
from review_data.store import ReviewStore, workspace_studies_dir
from review_data.study import StudyError, add_reviewer, create_study, list_studies

from .access import only
from .messages import ask_for_missing, plain

REFUSALS = (StudyError, SamplingError, ManifestError, AccountError, FileNotFoundError, ValueError)


def study_overview(store: ReviewStore) -> pd.DataFrame:
    """Per study: images, how the arms were matched, reviewers, ratings saved, and when it was made."""
    rows = store.db.execute(
        "SELECT s.name AS study, s.n_per_arm * 2 AS images, s.image_size AS size_px, s.matched_on, s.fst_estimated,"
        " (SELECT count(*) FROM study_reviewers r WHERE r.study_id = s.id) AS reviewers,"
        " (SELECT count(*) FROM ratings g WHERE g.study_id = s.id) AS ratings, s.created_at AS created"
        " FROM studies s ORDER BY s.id"
    ).fetchall()
    table = [(name, images, size, MATCH_ON[on] + (" (ITA-estimated types)" if estimated else ""), *rest)
             for name, images, size, on, estimated, *rest in rows]
    return pd.DataFrame(table, columns=["study", "images", "size_px", "matched on", "reviewers", "ratings", "created"])


def build_studies_tab(store: ReviewStore, roots: list[Path]):
    """Lay out the Studies tab; returns the refresh function and its outputs for the page load.

    Only manifests and images inside ``roots`` are read."""
    admin = only(store, "admin")
    overview = gr.Dataframe(label="Studies", interactive=False, elem_id="studies-overview")
    with gr.Accordion("Create a study", open=False):
        with gr.Row():
            name = gr.Textbox(label="Name", placeholder="e.g. pilot-2026", elem_id="study-name")
            n_per_arm = gr.Number(value=50, precision=0, minimum=1, label="Images per arm")
            seed = gr.Number(value=0, precision=0, label="Seed")
        real = gr.Textbox(label="Real manifest (path on the server)", elem_id="study-real")
        synthetic = gr.Textbox(label="Synthetic manifest (path on the server)", elem_id="study-synthetic")
        estimate = gr.Checkbox(label="Where the real manifest gives no skin type, estimate it from the image (ITA) and match on it",
                               elem_id="study-estimate-fst")
        create = gr.Button("Create study", variant="primary")
    with gr.Accordion("Enrol a reviewer", open=False):
        with gr.Row():
            enrol_study = gr.Dropdown(label="Study", choices=[], elem_id="enrol-study")
            username = gr.Textbox(label="Username")
            password = gr.Textbox(label="Password (new account: at least 8 characters)", type="password")
        enrol = gr.Button("Enrol reviewer")
    with gr.Row():
        export_choice = gr.Dropdown(label="Export a study", choices=[], scale=3)
        export = gr.Button("Export CSV", scale=1)
    files = gr.File(label="Ratings with the key, per-reviewer and study summaries", file_count="multiple", interactive=False)
    message = gr.Markdown(elem_id="studies-message")

    def refreshed():
        names = list_studies(store)
        return study_overview(store), gr.update(choices=names), gr.update(choices=names)

    refresh_outputs = [overview, enrol_study, export_choice]

    def not_created(why: str):
        return (gr.skip(),) * 3 + (f"**Study not created:** {why}",)

    @admin
    def on_create(name_: str, real_: str, synthetic_: str, n: float, seed_: float, estimate_fst: bool, user: str):
        ask_for_missing((name_, "Give the study a name."), (real_, "Give the path of the real manifest."),
                        (synthetic_, "Give the path of the synthetic manifest."), (n, "Give the number of images per arm."),
                        (seed_, "Give a seed (any whole number)."))
        name_ = name_.strip()
        if name_ in list_studies(store):
            return not_created(f"a study named **{plain(name_)}** exists already: choose another name.")
        try:
            study = create_study(store, workspace_studies_dir(), name_, real_.strip(), synthetic_.strip(),
                                 n_per_arm=int(n), seed=int(seed_), estimate_fst=estimate_fst, allowed_roots=roots)
        except REFUSALS as exc:
            return not_created(plain(exc))
        return (*refreshed(),
                f"Created study **{plain(study.name)}**: {2 * study.n_per_arm} images at {study.image_size} px, {study.design}.")

    @admin
    def on_enrol(study_name: str, username_: str, password_: str, user: str):
        ask_for_missing((study_name, "Choose a study first."), (username_, "Give the reviewer's username."))
        try:
            add_reviewer(store, study_name, username_.strip(), password_)
        except REFUSALS as exc:
            return (gr.skip(),) * 3 + (f"**Not enrolled:** {plain(exc)}",)
        return (*refreshed(), f"**{plain(username_.strip())}** now reviews **{plain(study_name)}**.")

    @admin
    def on_export(study_name: str, user: str):
        ask_for_missing((study_name, "Choose a study to export."))
        # A fresh folder with an unguessable name in Gradio's own cache, the only place it serves
        # files from: its URL goes to this admin only, and the cache is swept hourly.
        folder = Path(os.environ["GRADIO_TEMP_DIR"]) / f"export-{secrets.token_hex(16)}"
        return [str(p) for p in export_study(store, study_name, folder)]

    private = {"api_visibility": "private"}
    create.click(
        on_create, [name, real, synthetic, n_per_arm, seed, estimate], [*refresh_outputs, message], api_name="study_create", **private
    )
    enrol.click(on_enrol, [enrol_study, username, password], [*refresh_outputs, message], api_name="study_enrol", **private)
    export.click(on_export, export_choice, files, api_name="study_export", **private)
    return refreshed, refresh_outputs
