"""The SHA-256 of a file, read in blocks: weights and images are identified by their bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .workspace import refuse_private


def file_sha256(path: str | Path) -> str:
    refuse_private(path)  # hashing opens the file: never a database of a running server (see fairskin_core.workspace)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()
