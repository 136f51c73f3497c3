"""The one workspace folder that holds all of fairskin's state.

`$FAIRSKIN_HOME` (default `~/.fairskin`) holds databases, study images, generated sets,
caches and the default phantom set, so the source tree is never written at run time.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "FAIRSKIN_HOME"


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
