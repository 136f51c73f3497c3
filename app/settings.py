"""The web app's settings: its workspace, the folders it serves from, and its limits, in one object made at start.

`fairskin serve` (`app.cli`) makes an `AppSettings` once from the environment and hands it to
`app.server.build_server`, which hands it to both apps (`app.main`) and so to every tab: a tab
reads ``settings.shown`` or ``settings.workspace.folder("generated")``, never a module constant
or an environment variable. A test makes its own (`for_workspace`), with any limit changed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from fairskin_core.workspace import ADMIN_DOWNLOADS, Workspace


@dataclass(frozen=True)
class AppSettings:
    workspace: Workspace
    downloads: Path  # what the admin tabs hand to a browser: Gradio's temp folder, private state (app/downloads.py)
    review_images: Path  # the blinded copies of study images served to reviewers (app/review_page.py)

    # Generate tab
    interactive: int = 16  # more images than this run in the background
    long_run_seconds: float = 30 * 60  # a background run expected to take longer waits for a second press of Generate
    unmeasured_confirm: int = 1000  # ... as does one this large of a model whose speed is not measured here yet
    shown: int = 48  # the images of a run the gallery shows (the zip holds them all)
    max_zipped: int = 5000  # a larger run is fetched from the server's folder, not through the browser
    source_choices: int = 2000  # source images offered for tone transfer (type an id to find one)
    # Data tab
    page_size: int = 48  # thumbnails on one page of the browser
    audit_page: int = 48  # images shown of one estimated skin type in the audit view
    # Studies tab
    max_per_arm: int = 10_000  # images per arm (and practice, repeated, gold-standard images): more than any study could rate
    # Server
    keep_downloads_s: float = 3600  # downloads (exports with the answer key, reports, Gradio's cached files) are removed this old
    reviewer_max_body: int = 64 * 1024  # bytes of a reviewer's request: a saved answer with a 2,000-character comment is a few kB
    admin_max_body: int = 1024 * 1024  # bytes of an admin's request: typed paths and numbers, never an upload
    concurrency: int = 32  # events each app runs at once (Gradio's queue)

    @classmethod
    def for_workspace(cls, workspace: Workspace, **changed) -> AppSettings:
        """The settings of an app serving ``workspace``: its folders in it (created if missing), the limits as above unless
        ``changed`` (any field, by name)."""
        defaults = cls(workspace, workspace.folder(ADMIN_DOWNLOADS), workspace.folder("cache", "review-images"))
        return replace(defaults, **changed)

    @classmethod
    def from_environment(cls) -> AppSettings:
        """The settings of the workspace the environment names (`Workspace.from_environment`)."""
        return cls.for_workspace(Workspace.from_environment())
