"""The embedded defaults that make fairskin work offline on a fresh install.

The default phantom set is rendered into the workspace on first use (about 20 s on two
cores) and reused afterwards; its folder name carries its parameters, so changing them here
renders a new one instead of reusing a stale one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .phantoms.dataset import write_phantom_dataset
from .workspace import workspace_dir

DEFAULT_PHANTOMS = {"n": 600, "preset": "balanced", "size": 128, "seed": 0}
# Stands in for the default generator's images until that model exists: the same renderer
# with another seed, so the demo review study has a "synthetic" arm offline.
STAND_IN_SYNTHETIC = {**DEFAULT_PHANTOMS, "seed": 1}


def default_phantom_manifest(progress: Callable[[int, int], None] | None = None) -> Path:
    """The manifest of the default phantom set, rendering it first if the workspace lacks it."""
    return phantom_set(DEFAULT_PHANTOMS, progress)


def default_synthetic_manifest(progress: Callable[[int, int], None] | None = None) -> Path:
    """The demo's synthetic arm: for now a second, differently seeded phantom set."""
    return phantom_set(STAND_IN_SYNTHETIC, progress)


def phantom_set(p: dict, progress: Callable[[int, int], None] | None = None) -> Path:
    """The manifest of the phantom set with parameters ``p`` (n, preset, size, seed) in the workspace, rendered once."""
    folder = workspace_dir("phantoms") / f"default-{p['preset']}-n{p['n']}-{p['size']}px-s{p['seed']}"
    manifest = folder / "manifest.csv"
    if manifest.is_file():
        return manifest
    try:
        write_phantom_dataset(folder, progress=progress, overwrite=folder.exists() and not manifest.exists(), **p)
    except FileExistsError:
        if not manifest.is_file():  # not another process finishing the same set first
            raise
    return manifest
