"""The fairskin web app's two Gradio apps. UI only: every handler calls into fairskin_core / review_data.

Reviewers and admins get separate apps (served side by side by `app/server.py`): the reviewer's
page holds only the blinded review, so nothing of the admin tools (components, manifest paths,
folders) ever reaches a reviewer's browser. Each app has its own sign-in, and what protects every
action is the role check inside its handler (`app/access.py`).
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import gradio as gr

from fairskin_core.manifest import read_manifest
from fairskin_core.phantoms.workspace_sets import default_phantom_manifest, default_phantom_manifest_path
from review_data.accounts import role_of
from review_data.store import ReviewStore

from .access import only
from .dashboard_tab import build_dashboard_tab
from .data_tab import MeasuredManifests, build_data_tab
from .fairness_tab import build_fairness_tab, report_folders
from .generate_tab import build_generate_tab
from .messages import plain
from .quality_tab import build_quality_tab
from .review_page import ShownImages, build_review_page
from .settings import AppSettings
from .startup import DefaultsPreparation, StartupProgress
from .studies_tab import build_studies_tab

TITLE = "fairskin"
INTRO = (
    "**fairskin** — synthetic skin-lesion images across Fitzpatrick skin types I–VI, "
    "and the tools to check that they are good and that they help."
)


def _configure_gradio_environment(settings: AppSettings) -> None:
    """Keep Gradio's uploads and caches in ``settings.downloads``, where the admin tabs put what they hand to a browser; its
    telemetry off, its queue lean. Set by each app's builder, before Gradio writes any file; read by Gradio alone.

    By default Gradio's queue recomputes its own monitoring statistics (a pandas group-by over
    up to 10,000 past events) after every event; with 20 reviewers saving at once that alone
    took about a tenth of the server's time. We never read those statistics.
    """
    os.environ["GRADIO_TEMP_DIR"] = str(settings.downloads)  # private (fairskin_core.workspace), swept: app/downloads.py
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "500")
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "500")


def build_admin_app(
    settings: AppSettings,
    store: ReviewStore,
    manifest: str | Path | None = None,
    synthetic_manifest: str | Path | None = None,
    roots: list[Path] | None = None,
    preparation: DefaultsPreparation | None = None,
) -> gr.Blocks:
    """The admins' app: Data, Studies, Generate, Quality, Fairness and the Review dashboard, as ``settings`` say.

    The Data tab opens ``manifest`` (default: the embedded phantom set), the Quality tab compares
    ``synthetic_manifest`` with it. Every manifest an admin types in, and every image it names, must
    lie inside ``roots`` (default: the workspace, its data roots (``$FAIRSKIN_DATA_ROOTS``), and the folders of
    ``manifest`` and its images). With ``preparation`` (a first start rendering the defaults in
    the background) the page shows its progress and opens the default manifest once it exists;
    without, a missing default phantom set is rendered before the app is built."""
    _configure_gradio_environment(settings)
    workspace = settings.workspace
    if manifest is None:
        phantoms = workspace.folder("phantoms")
        manifest = default_phantom_manifest_path(phantoms) if preparation else default_phantom_manifest(
            phantoms, progress=partial(StartupProgress(), "rendering the default phantom set"))
    manifest = str(manifest)
    if roots is None:
        roots = workspace.readable_roots(manifest_folders(manifest) if Path(manifest).is_file() else [])
    reports = workspace.folder("downstream")
    # delete_cache: every 10 min, remove cached files (exports, galleries) as old as downloads are kept (an hour).
    with gr.Blocks(title=f"{TITLE} · admin", analytics_enabled=False, delete_cache=(600, int(settings.keep_downloads_s))) as demo:
        with gr.Row():
            gr.Markdown(INTRO)
            account = gr.Markdown(elem_id="signed-in")
        startup = gr.Markdown(elem_id="startup-status")
        preparing = gr.Timer(2.0, active=preparation is not None and not preparation.finished.is_set())
        with gr.Tabs(selected="data") as tabs:
            with gr.Tab("Data", id="data"):
                path_box, show_manifest, opened = build_data_tab(settings, manifest, store, roots, MeasuredManifests(workspace))
            with gr.Tab("Studies", id="studies"):
                refresh_studies, study_outputs = build_studies_tab(settings, store, roots)
            with gr.Tab("Generate", id="generate"):
                generate_load, generate_outputs = build_generate_tab(settings, store, roots, manifest)
            with gr.Tab("Quality", id="quality"):
                build_quality_tab(settings, store, manifest, str(synthetic_manifest or ""), roots)
            with gr.Tab("Fairness", id="fairness"):
                fairness_picker, fairness_load, fairness_outputs = build_fairness_tab(settings, store, manifest,
                                                                                      str(synthetic_manifest or ""), roots)
            with gr.Tab("Review dashboard", id="dashboard"):
                dashboard_studies, dashboard_picker = build_dashboard_tab(store)
        # A figure drawn while its tab was hidden has plotly's default 700 px width: a resize makes each one fill its box.
        tabs.select(None, js="() => { requestAnimationFrame(() => window.dispatchEvent(new Event('resize'))); }")

        def still_preparing() -> bool:
            return preparation is not None and not preparation.finished.is_set()

        def filled_tabs(path: str) -> dict:
            """What the tabs show: studies, reports and the open manifest (left as is while the defaults are being made)."""
            waiting = still_preparing() and not Path(path).is_file()
            return {
                **dashboard_studies(),
                fairness_picker: gr.update(choices=report_folders(reports), value=next(iter(report_folders(reports)), None)),
                **({} if waiting else show_manifest(path)),
                **refresh_studies(),
            }

        tab_outputs = [dashboard_picker, fairness_picker, *opened, *study_outputs]

        @only(store, "admin")
        def on_load(path: str, request: gr.Request):
            """Fill the tabs for a signed-in admin (the sign-in lets no one else in)."""
            return {
                # relative links: also behind a proxy
                account: f"Signed in as **{plain(request.username)}** (admin) · [Sign out](logout) · [Reviewer page](../)",
                startup: preparation.status() if preparation else "",
                preparing: gr.Timer(active=still_preparing()),  # a page opened once the defaults exist never re-fills its tabs
                **filled_tabs(path),
                **generate_load(),
                **fairness_load(),
            }

        @only(store, "admin")
        def on_preparing(path: str, request: gr.Request):
            """While the defaults are being made: their progress; once made, the tabs filled and the timer stopped."""
            if still_preparing():
                return {startup: preparation.status()}
            return {startup: preparation.status(), preparing: gr.Timer(active=False), **filled_tabs(path)}

        demo.load(on_load, path_box, [account, startup, preparing, *tab_outputs, *generate_outputs, *fairness_outputs],
                  api_name="page_load", api_visibility="undocumented")
        preparing.tick(on_preparing, path_box, [startup, preparing, *tab_outputs], api_name="preparing", api_visibility="undocumented",
                       show_progress="hidden")
    return demo


def build_reviewer_app(settings: AppSettings, store: ReviewStore, preparation: DefaultsPreparation | None = None,
                       shown_images: ShownImages | None = None) -> gr.Blocks:
    """The reviewers' app: only the blinded review, so their browsers receive nothing of the admin tools.

    Study images are served (by `app/server.py`) from ``settings.review_images``, each to the reviewers ``shown_images``
    says were shown it. While ``preparation`` is making the demo study, the page says so."""
    _configure_gradio_environment(settings)
    with gr.Blocks(title=f"{TITLE} · review", analytics_enabled=False, fill_width=True) as demo:
        account, study_picker, reviewer_studies, resume_after = build_review_page(store, settings.review_images, TITLE,
                                                                                   shown_images or ShownImages())

        def on_load(request: gr.Request):
            """A reviewer gets their studies; anyone else is told where to go."""
            username = request.username
            role = role_of(store, username)
            if role == "admin":
                return {account: (f"Signed in as **{plain(username)}** (admin): this page is for reviewers. "
                                  "The study tools are at [/admin/](admin/) · [Sign out](logout)")}
            header = f"Signed in as **{plain(username)}** · [Sign out](logout)" if role else ""
            if preparation is not None and preparation.status():
                header = f"{header}<br>{preparation.status()} Reload this page in a minute."
            return {account: header, **(reviewer_studies(username) if role == "reviewer" else {})}

        resume_after(demo.load(on_load, None, [account, study_picker], api_name="page_load", api_visibility="undocumented"))
    return demo


def manifest_folders(path: str | Path) -> list[Path]:
    """The folder of a manifest given on the command line and its image roots: what it needs the app to read."""
    manifest = read_manifest(path, check_files="none")
    return [manifest.root, *(manifest.image_root(r) for r in sorted(set(manifest.table["image_root"]) - {""}))]
