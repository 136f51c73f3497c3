"""Files the admin app hands to a browser: study exports (with the answer key), quality reports, zips of generated images.

Each goes into a fresh folder with an unguessable name inside Gradio's temp folder, the one place
Gradio serves files from: ``AppSettings.downloads`` (``$FAIRSKIN_HOME/admin-downloads``), private workspace state (never read
as a manifest, `fairskin_core.workspace`; never served on the reviewers' mount, `app/web_guard.py`). Folders older than an
hour (``AppSettings.keep_downloads_s``) are removed whenever a new one is made, and all of them when the server starts, so
an export holding the answer key does not outlive its download for long (Gradio's own sweep removes only files it made itself).
"""

from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path

from .settings import AppSettings


def remove_downloads(folder: Path, older_than_s: float = 0.0) -> None:
    """Remove what ``folder`` (``AppSettings.downloads``, Gradio's temp folder in the admin app, set by `app.main`) holds that
    is older than ``older_than_s`` seconds (everything by default)."""
    if not folder.is_dir():
        return
    now = time.time()
    for entry in folder.iterdir():
        try:
            if now - entry.lstat().st_mtime < older_than_s:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        except FileNotFoundError:
            continue  # removed meanwhile by Gradio's sweep or another export


def download_folder(settings: AppSettings, kind: str) -> Path:
    """A new folder in ``settings.downloads`` (Gradio's temp folder; not created: the writer makes it atomically) for one
    download of ``kind``; those older than ``settings.keep_downloads_s`` are swept."""
    remove_downloads(settings.downloads, older_than_s=settings.keep_downloads_s)
    return settings.downloads / f"{kind}-{secrets.token_hex(16)}"
