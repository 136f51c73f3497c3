"""The ready-made demo study a fresh `fairskin serve` offers, with accounts to try it.

Real arm: the default phantom set. Synthetic arm: images of the shipped default model
(`fairskin_core.defaults`), so the demo is a real test of our generator. The accounts' passwords are
random, written to ``$FAIRSKIN_HOME/demo-credentials.txt`` (readable by the owner only) and
printed at start-up.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from functools import partial
from pathlib import Path

from fairskin_core.defaults import default_phantom_manifest, default_synthetic_manifest
from fairskin_core.workspace import workspace_root

from .accounts import account_id, create_account, role_of
from .store import ReviewStore, workspace_studies_dir
from .study import create_study, enrol_reviewer, list_studies

DEMO_STUDY = "demo"
DEMO_ADMIN = "admin"
DEMO_REVIEWERS = ("reviewer1", "reviewer2")


def credentials_file() -> Path:
    return workspace_root() / "demo-credentials.txt"


def ensure_demo_accounts(store: ReviewStore) -> Path:
    """The demo's admin and reviewer accounts, made at once (seconds) so a first start can be signed into; the credentials file.

    Accounts that exist already (made by hand, or by an earlier start) are left alone.
    """
    path = credentials_file()
    lines = []
    if store.db.execute("SELECT 1 FROM accounts WHERE role = 'admin'").fetchone() is None:
        password = secrets.token_urlsafe(9)
        create_account(store, DEMO_ADMIN, password, "admin")
        lines.append(f"admin     {DEMO_ADMIN} / {password}")
    for username in DEMO_REVIEWERS:
        if account_id(store, username) is None:
            password = secrets.token_urlsafe(9)
            create_account(store, username, password, "reviewer")
            lines.append(f"reviewer  {username} / {password}")
    if lines:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write("\n".join(lines) + "\n")
    return path


def ensure_demo_study(store: ReviewStore, progress: Callable[[str, int, int], None] | None = None) -> Path:
    """The demo accounts, then the demo study (rendering its images on a first start) with the demo reviewers enrolled.

    ``progress(task, done, total)`` hears about the first start's slow parts. Returns the credentials file.
    """
    path = ensure_demo_accounts(store)
    if DEMO_STUDY in list_studies(store):
        return path
    stages = {}
    for task, make in (("rendering the default phantom set", default_phantom_manifest),
                       ("generating the demo's images with the default model", default_synthetic_manifest)):
        if progress:
            progress(task, 0, 0)  # the stage is named before its first item is done
        stages[task] = make(partial(progress, task) if progress else None)
    real, synthetic = stages.values()
    create_study(store, workspace_studies_dir(), DEMO_STUDY, real, synthetic, n_per_arm=50, seed=0)
    for username in DEMO_REVIEWERS:
        if role_of(store, username) == "reviewer":
            enrol_reviewer(store, DEMO_STUDY, username)
    return path
