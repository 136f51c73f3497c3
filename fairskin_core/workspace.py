"""The one workspace folder that holds all of fairskin's state.

`$FAIRSKIN_HOME` (default `~/.fairskin`) holds databases, study images, generated sets,
caches and the default phantom set, so the source tree is never written at run time.
`$FAIRSKIN_OFFLINE` says that nothing may be downloaded into it (weights, VAEs).
`$FAIRSKIN_DATA_ROOTS` (folders separated by ':') and `fairskin serve --data-root` name the
folders beyond the workspace that the web app may read manifests and images from.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "FAIRSKIN_HOME"
OFFLINE_ENV = "FAIRSKIN_OFFLINE"  # set (to anything but 0) to never try a download
DATA_ROOTS_ENV = "FAIRSKIN_DATA_ROOTS"


def workspace_root() -> Path:
    """The workspace folder, created if missing."""
    root = Path(os.environ.get(ENV_VAR) or Path.home() / ".fairskin").expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


def workspace_dir(*parts: str) -> Path:
    """A sub-folder of the workspace (``phantoms``, ``cache``, ``studies`` ...), created if missing."""
    path = workspace_root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def offline() -> bool:
    """True where $FAIRSKIN_OFFLINE asks never to try a download."""
    return os.environ.get(OFFLINE_ENV, "0") not in ("", "0")


def readable_roots(extra: list[str | Path] = ()) -> list[Path]:
    """The folders the web app may read from: the workspace, ``$FAIRSKIN_DATA_ROOTS`` and ``extra``, resolved."""
    listed = [p for p in os.environ.get(DATA_ROOTS_ENV, "").split(os.pathsep) if p]
    roots = []
    for folder in [workspace_root(), *listed, *extra]:
        resolved = Path(folder).expanduser().resolve()
        if not resolved.is_dir():
            raise NotADirectoryError(f"data root {folder}: no such folder")
        if resolved not in roots:
            roots.append(resolved)
    return roots
