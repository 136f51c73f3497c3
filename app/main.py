"""The fairskin web app. UI only: every handler calls into fairskin_core / review_data.

Everyone signs in (Gradio's login, checked against the review database). Reviewers see only
the Review tab; admins see Data, Studies, Generate, Quality and the Review dashboard. Tabs are
shown by role, but what protects them is the role check inside every handler (`app/access.py`).
"""

from __future__ import annotations

import os
import time
from functools import partial
from pathlib import Path

import gradio as gr

from fairskin_core.defaults import default_phantom_manifest, default_synthetic_manifest
from fairskin_core.manifest import read_manifest
from fairskin_core.workspace import readable_roots, workspace_dir, workspace_root
from review_data.accounts import authenticate, role_of
from review_data.demo import ensure_demo_study
from review_data.store import ReviewStore, workspace_store, workspace_studies_dir

from .access import signed_in
from .dashboard_tab import build_dashboard_tab
from .data_tab import build_data_tab, open_manifest
from .generate_tab import build_generate_tab
from .messages import plain
from .quality_tab import build_quality_tab
from .review_tab import CSS, SHORTCUTS, build_review_tab
from .studies_tab import build_studies_tab

TITLE = "fairskin"
INTRO = (
    "**fairskin** — synthetic skin-lesion images across Fitzpatrick skin types I–VI, "
    "and the tools to check that they are good and that they help."
)


def _configure_gradio_environment() -> None:
    """Keep Gradio's uploads and caches in the workspace, its telemetry off, its queue lean.

    By default Gradio's queue recomputes its own monitoring statistics (a pandas group-by over
    up to 10,000 past events) after every event; with 20 reviewers saving at once that alone
    took about a tenth of the server's time. We never read those statistics.
    """
    os.environ.setdefault("GRADIO_TEMP_DIR", str(workspace_dir("cache", "gradio")))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "500")
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "500")


def build_app(
    store: ReviewStore,
    manifest: str | Path | None = None,
    synthetic_manifest: str | Path | None = None,
    roots: list[Path] | None = None,
) -> gr.Blocks:
    """The Blocks app; the Data tab opens ``manifest`` (default: the embedded phantom set), the Quality
    tab compares ``synthetic_manifest`` with it.

    Every manifest an admin types in, and every image it names, must lie inside ``roots``
    (default: the workspace, ``$FAIRSKIN_DATA_ROOTS``, and the folders of ``manifest`` and its images)."""
    _configure_gradio_environment()
    manifest = str(manifest or default_phantom_manifest(progress=partial(_StartupProgress(), "rendering the default phantom set")))
    roots = roots if roots is not None else readable_roots(manifest_folders(manifest))
    # delete_cache: every 10 min, remove cached files (served images, exports) older than an hour.
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(600, 3600)) as demo:
        with gr.Row():
            gr.Markdown(INTRO)
            account = gr.Markdown(elem_id="signed-in")
        with gr.Tabs() as tabs:
            with gr.Tab("Review", id="review", visible=False) as review_tab:
                study_picker, reviewer_studies = build_review_tab(store)
            with gr.Tab("Data", id="data", visible=False) as data_tab:
                path_box, opened = build_data_tab(manifest, store, roots)
            with gr.Tab("Studies", id="studies", visible=False) as studies_tab:
                refresh_studies, study_outputs = build_studies_tab(store, roots)
            with gr.Tab("Generate", id="generate", visible=False) as generate_tab:
                build_generate_tab(store)
            with gr.Tab("Quality", id="quality", visible=False) as quality_tab:
                build_quality_tab(store, manifest, str(synthetic_manifest or ""), roots)
            with gr.Tab("Review dashboard", id="dashboard", visible=False) as dashboard_tab:
                dashboard_studies, dashboard_picker = build_dashboard_tab(store)

        def on_load(path: str, request: gr.Request):
            """Show each role its tabs and fill them; other tabs stay hidden and empty."""
            username = signed_in(request)
            role = role_of(store, username)
            is_admin, is_reviewer = role == "admin", role == "reviewer"
            header = f"Signed in as **{plain(username)}** ({role}) · [Sign out](/logout)" if role else ""
            return (
                header,
                gr.update(selected="data" if is_admin else "review"),
                gr.update(visible=is_reviewer),
                gr.update(visible=is_admin),
                gr.update(visible=is_admin),
                gr.update(visible=is_admin),
                gr.update(visible=is_admin),
                gr.update(visible=is_admin),
                reviewer_studies(username) if is_reviewer else gr.skip(),
                dashboard_studies() if is_admin else gr.skip(),
                *(open_manifest(path, roots) if is_admin else [gr.skip()] * len(opened)),
                *(refresh_studies() if is_admin else [gr.skip()] * len(study_outputs)),
            )

        demo.load(
            on_load,
            path_box,
            [
                account, tabs, review_tab, data_tab, studies_tab, generate_tab, quality_tab, dashboard_tab,
                study_picker, dashboard_picker, *opened, *study_outputs,
            ],
            api_name="page_load",
            api_visibility="private",
        )
    return demo


def manifest_folders(path: str | Path) -> list[Path]:
    """The folder of a manifest given on the command line and its image roots: what it needs the app to read."""
    manifest = read_manifest(path, check_files="none")
    return [manifest.root, *(manifest.image_root(r) for r in sorted(set(manifest.table["image_root"]) - {""}))]


class _StartupProgress:
    """Prints the first start's slow work (phantoms, the demo's generated images) at most every 5 s, and when done."""

    def __init__(self) -> None:
        self.last_print = 0.0

    def __call__(self, task: str, done: int, total: int) -> None:
        if done == total or time.monotonic() - self.last_print >= 5:
            self.last_print = time.monotonic()
            print(f"{task} into the workspace: {done}/{total}", flush=True)


def serve(host: str = "127.0.0.1", port: int = 7860, manifest: str | Path | None = None, data_roots: list[str | Path] = ()) -> None:
    """Start the app (creating the demo study on first start) and block until it is stopped.

    ``data_roots``: folders beyond the workspace (and ``manifest``'s own) that admins may open manifests from."""
    store = workspace_store()
    credentials = ensure_demo_study(store, progress=_StartupProgress())
    roots = readable_roots([*data_roots, *(manifest_folders(manifest) if manifest else [])])
    demo = build_app(store, manifest, default_synthetic_manifest(), roots)
    print("fairskin: admins may open manifests and images under " + ", ".join(map(str, roots)), flush=True)

    print(f"fairskin: open http://{host}:{port} and sign in.", flush=True)
    if credentials.exists():
        print(f"Demo accounts (from {credentials}):\n{credentials.read_text()}", flush=True)
    root = workspace_root()
    demo.queue(default_concurrency_limit=32).launch(
        server_name=host,
        server_port=port,
        auth=lambda username, password: authenticate(store, username, password) is not None,
        auth_message="Sign in with the account your study admin gave you.",
        show_error=True,
        footer_links=["gradio"],
        run_history=False,
        ssr_mode=False,
        # Never served, whatever a handler returns: the answer key, the study images, accounts.
        blocked_paths=[str(workspace_studies_dir()), *(str(root / f"review.db{suffix}") for suffix in ("", "-wal", "-shm")),
                       str(root / "demo-credentials.txt"), str(root / "phantoms")],
        head=SHORTCUTS,
        css=CSS,
    )
