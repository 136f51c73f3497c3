"""The one workspace folder that holds all of fairskin's state.

`$FAIRSKIN_HOME` (default `~/.fairskin`) holds databases, study images, generated sets,
caches and the default phantom set, so the source tree is never written at run time.
`$FAIRSKIN_OFFLINE` says that nothing may be downloaded into it (weights, VAEs).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "FAIRSKIN_HOME"
OFFLINE_ENV = "FAIRSKIN_OFFLINE"  # set (to anything but 0) to never try a download


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
