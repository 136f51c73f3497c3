"""Phantom sets kept in the workspace, each rendered once: the default one, and any a training config names.

The default phantom set (the web app's first manifest and the demo study's real arm) is rendered
into the workspace on first use (about 20 s on two cores) and reused afterwards. A set's folder
name carries its parameters, so changing them renders a new set instead of reusing a stale one.
Each call is given the workspace's ``phantoms`` folder (`fairskin_core.workspace.Workspace.folder`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .dataset import write_phantom_dataset

DEFAULT_PHANTOMS = {"n": 600, "preset": "balanced", "size": 128, "seed": 0}


def _phantom_folder(phantoms: Path, p: dict) -> Path:
    return Path(phantoms) / f"default-{p['preset']}-n{p['n']}-{p['size']}px-s{p['seed']}"


def phantom_set(phantoms: Path, p: dict, progress: Callable[[int, int], None] | None = None) -> Path:
    """The manifest of the phantom set with parameters ``p`` (n, preset, size, seed) in the folder ``phantoms``, rendered once."""
    folder = _phantom_folder(phantoms, p)
    manifest = folder / "manifest.csv"
    if manifest.is_file():
        return manifest
    try:
        write_phantom_dataset(folder, progress=progress, overwrite=folder.exists() and not manifest.exists(), **p)
    except FileExistsError:
        if not manifest.is_file():  # not another process finishing the same set first
            raise
    return manifest


def default_phantom_manifest(phantoms: Path, progress: Callable[[int, int], None] | None = None) -> Path:
    """The manifest of the default phantom set in the folder ``phantoms``, rendering it first if it is not there."""
    return phantom_set(phantoms, DEFAULT_PHANTOMS, progress)


def default_phantom_manifest_path(phantoms: Path) -> Path:
    """Where the default phantom set's manifest is (or will be, once rendered) in the folder ``phantoms``: known without rendering it."""
    return _phantom_folder(phantoms, DEFAULT_PHANTOMS) / "manifest.csv"
