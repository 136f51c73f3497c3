"""Where torch runs and how its weight files are fetched: one choice of device and precision, one hash-checked download.

A weight file is downloaded only where no local copy exists and the user has not asked for offline
runs; the connection is probed first so that an offline machine fails in seconds, not after a TCP
timeout, and the file is checked against the hash prefix in its name (torch.hub's convention).
"""

from __future__ import annotations

import logging
import socket
import urllib.parse
from pathlib import Path

import torch

CONNECT_TIMEOUT_S = 5
logger = logging.getLogger(__name__)


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` when one is asked for, else the first CUDA GPU where there is one, else the CPU."""
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def usable_precision(requested: str) -> str:
    """The mixed precision to train in: fp16 autocast exists only on GPUs; bf16 also runs on CPUs."""
    if requested == "fp16" and not torch.cuda.is_available():
        logger.warning("mixed_precision fp16 needs a GPU: training in fp32 (bf16 works on CPUs)")
        return "no"
    return requested


def download_checked(url: str, path: Path) -> str | None:
    """Fetch ``url`` into ``path``, checked against the hash prefix of its file name; None on success, else why not."""
    try:
        socket.create_connection((urllib.parse.urlparse(url).hostname, 443), timeout=CONNECT_TIMEOUT_S).close()
        path.parent.mkdir(parents=True, exist_ok=True)
        hash_prefix = torch.hub.HASH_REGEX.search(Path(urllib.parse.urlparse(url).path).name).group(1)
        torch.hub.download_url_to_file(url, str(path), hash_prefix=hash_prefix, progress=False)
    except (OSError, RuntimeError) as exc:  # URLError and socket errors are OSErrors; a bad hash is a RuntimeError
        return f"download failed ({type(exc).__name__}: {exc})"
    return None
