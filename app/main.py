"""The fairskin web app. UI only: every handler calls into fairskin_core / review_data."""

from __future__ import annotations

import os
from pathlib import Path

from fairskin_core.defaults import default_phantom_manifest
from fairskin_core.workspace import workspace_dir

TITLE = "fairskin"
INTRO = (
    "**fairskin** — synthetic skin-lesion images across Fitzpatrick skin types I–VI, "
    "and the tools to check that they are good and that they help."
)


def _configure_gradio_environment() -> None:
    """Keep Gradio's uploads and caches in the workspace, and its telemetry off."""
    os.environ.setdefault("GRADIO_TEMP_DIR", str(workspace_dir("cache", "gradio")))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def build_app(manifest: str | Path | None = None):
    """The Blocks app, opening ``manifest`` (default: the embedded phantom set) in the Data tab."""
    _configure_gradio_environment()
    import gradio as gr

    from .data_tab import build_data_tab, open_manifest

    if manifest is None:
        manifest = default_phantom_manifest(progress=_print_progress)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs():
            with gr.Tab("Data", id="data"):
                path_box, opened = build_data_tab(str(manifest))
        demo.load(open_manifest, path_box, opened)
    return demo


def _print_progress(done: int, total: int) -> None:
    if done == total or done % 100 == 0:
        print(f"rendering the default phantom set into the workspace: {done}/{total}", flush=True)


def serve(host: str = "127.0.0.1", port: int = 7860, manifest: str | Path | None = None) -> None:
    """Start the app and block until it is stopped."""
    demo = build_app(manifest)
    demo.queue(default_concurrency_limit=4).launch(
        server_name=host,
        server_port=port,
        show_error=True,
        footer_links=["gradio"],
        run_history=False,
        ssr_mode=False,
    )
