"""Files the admin app hands to a browser: study exports (with the answer key), quality reports, zips of generated images.

Each goes into a fresh folder with an unguessable name inside Gradio's temp folder, the one place
Gradio serves files from: ``$FAIRSKIN_HOME/admin-downloads``, private workspace state (never read
as a manifest, `fairskin_core.workspace`; never served on the reviewers' mount, `app/web_guard.py`). Folders older than an hour are removed
whenever a new one is made, and all of them when the server starts, so an export holding the answer
key does not outlive its download for long (Gradio's own sweep removes only files it made itself).
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path

from fairskin_core.workspace import ADMIN_DOWNLOADS, workspace_dir

KEEP_S = 3600


def gradio_temp_folder() -> Path:
    """Where Gradio keeps and serves its files (``GRADIO_TEMP_DIR``, set to `ADMIN_DOWNLOADS` by `app.main`)."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or workspace_dir(ADMIN_DOWNLOADS))


def remove_downloads(older_than_s: float = 0.0) -> None:
    """Remove what the temp folder holds that is older than ``older_than_s`` seconds (everything by default)."""
    folder = gradio_temp_folder()
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


def download_folder(kind: str) -> Path:
    """A new folder (not created: the writer makes it atomically) for one download of ``kind``; older ones are swept."""
    remove_downloads(older_than_s=KEEP_S)
    return gradio_temp_folder() / f"{kind}-{secrets.token_hex(16)}"
