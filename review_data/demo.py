"""The ready-made demo study a fresh `fairskin serve` offers, with accounts to try it.

Real arm: the default phantom set (`fairskin_core.phantoms.workspace_sets`). Synthetic arm: images
of the shipped default model, generated into the workspace once, so the demo is a real test of our
generator. The accounts' passwords are random and handed back once, by the call that creates them
(`fairskin serve` prints them on that start only): never stored in plain text. A
``demo-credentials.txt`` left by an earlier version is removed.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import partial
from pathlib import Path

from fairskin_core.diffusion.model_folder import DEFAULT_MODEL, WEIGHTS_FILE, read_index
from fairskin_core.fst import FST_TYPES
from fairskin_core.generation.planned_set import generate_set, plan_per_cell
from fairskin_core.hashing import file_sha256
from fairskin_core.manifest import read_manifest
from fairskin_core.phantoms.workspace_sets import default_phantom_manifest
from fairskin_core.workspace import Workspace

from .accounts import account_id, create_account, role_of
from .store import ReviewStore, workspace_studies_dir
from .study import create_study, enrol_reviewer, list_studies

DEMO_STUDY = "demo"
DEMO_ADMIN = "admin"
DEMO_REVIEWERS = ("reviewer1", "reviewer2")


# The synthetic arm: the shipped default model's images, `per_cell` of every FST × diagnosis pair.
DEFAULT_SYNTHETIC = {"per_cell": 2, "seed": 0, "steps": 25, "guidance": 3.0, "scheduler": "ddim"}


def default_synthetic_manifest_path(synthetic: Path) -> Path:
    """Where the demo's synthetic arm's manifest is (or will be) in the folder ``synthetic`` (the workspace's): its folder name
    carries the default weights' hash."""
    p = DEFAULT_SYNTHETIC
    weights_hash = file_sha256(DEFAULT_MODEL / "unet" / WEIGHTS_FILE)[:16]
    return Path(synthetic) / f"default-model-{weights_hash}-{p['per_cell']}-per-cell-s{p['seed']}" / "manifest.csv"


def default_synthetic_manifest(synthetic: Path, progress: Callable[[int, int], None] | None = None) -> Path:
    """The demo's synthetic arm: the default model's images, generated into the folder ``synthetic`` (the workspace's) once.

    The folder name carries the weights' hash, so a new default model generates a new set. An
    interrupted first start resumes where it stopped (batch generation is resumable).
    """
    p = DEFAULT_SYNTHETIC
    # Planned from the model's index, so a set made already is found without loading the model (torch and diffusers).
    plan = plan_per_cell(p["per_cell"], list(FST_TYPES), read_index(DEFAULT_MODEL)["diagnoses"], p["seed"])
    manifest = default_synthetic_manifest_path(synthetic)
    folder = manifest.parent
    if manifest.is_file() and len(read_manifest(manifest, check_files="none").table) == len(plan):
        return manifest
    from fairskin_core.generation.backends import FSTModelBackend

    return generate_set(FSTModelBackend(DEFAULT_MODEL), plan, folder, steps=p["steps"], guidance=p["guidance"], scheduler=p["scheduler"],
                        batch_size=24, progress=(lambda done, total, rate: progress(done, total)) if progress else None)


def remove_old_credentials_file(workspace: Workspace) -> Path | None:
    """Remove the plain-text ``demo-credentials.txt`` earlier versions kept in ``workspace``; return it if there was one."""
    path = workspace.root / "demo-credentials.txt"
    if not path.exists():
        return None
    path.unlink()
    return path


def ensure_demo_accounts(store: ReviewStore) -> list[tuple[str, str, str]]:
    """The demo's admin and reviewer accounts, made at once (seconds) so a first start can be signed into.

    Returns (role, username, password) of each account made now: the only time the password is known.
    Accounts that exist already (made by hand, or by an earlier start) are left alone.
    """
    created = []
    if store.db.execute("SELECT 1 FROM accounts WHERE role = 'admin'").fetchone() is None:
        password = secrets.token_urlsafe(9)
        create_account(store, DEMO_ADMIN, password, "admin")
        created.append(("admin", DEMO_ADMIN, password))
    for username in DEMO_REVIEWERS:
        if account_id(store, username) is None:
            password = secrets.token_urlsafe(9)
            create_account(store, username, password, "reviewer")
            created.append(("reviewer", username, password))
    return created


def ensure_demo_study(store: ReviewStore, workspace: Workspace, progress: Callable[[str, int, int], None] | None = None) -> None:
    """The demo study (rendering its images into ``workspace`` on a first start) with the demo reviewers enrolled
    (`ensure_demo_accounts` first).

    ``progress(task, done, total)`` hears about the first start's slow parts.
    """
    if DEMO_STUDY in list_studies(store):
        return
    stages = {}
    for task, make, folder in (("rendering the default phantom set", default_phantom_manifest, "phantoms"),
                               ("generating the demo's images with the default model", default_synthetic_manifest, "synthetic")):
        if progress:
            progress(task, 0, 0)  # the stage is named before its first item is done
        stages[task] = make(workspace.folder(folder), partial(progress, task) if progress else None)
    real, synthetic = stages.values()
    # Both arms carry their skin types, so nothing is estimated: no measurement cache or corrections to hand on.
    create_study(store, workspace_studies_dir(workspace), DEMO_STUDY, real, synthetic, n_per_arm=50, seed=0)
    for username in DEMO_REVIEWERS:
        if role_of(store, username) == "reviewer":
            enrol_reviewer(store, DEMO_STUDY, username)
