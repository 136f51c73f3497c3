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

from .accounts import account_id, create_account
from .store import ReviewStore, workspace_studies_dir
from .study import add_reviewer, create_study, list_studies

DEMO_STUDY = "demo"
DEMO_ADMIN = "admin"
DEMO_REVIEWERS = ("reviewer1", "reviewer2")


def credentials_file() -> Path:
    return workspace_root() / "demo-credentials.txt"


def ensure_demo_study(store: ReviewStore, progress: Callable[[str, int, int], None] | None = None) -> Path:
    """Create the demo study and its accounts if missing; return the credentials file.

    ``progress(task, done, total)`` hears about the first start's slow parts.
    """
    path = credentials_file()
    if DEMO_STUDY in list_studies(store):
        return path
    real = default_phantom_manifest(partial(progress, "rendering the default phantom set") if progress else None)
    synthetic = default_synthetic_manifest(partial(progress, "generating the demo's images with the default model") if progress else None)
    create_study(store, workspace_studies_dir(), DEMO_STUDY, real, synthetic, n_per_arm=50, seed=0)
    lines = []
    if store.db.execute("SELECT 1 FROM accounts WHERE role = 'admin'").fetchone() is None:
        password = secrets.token_urlsafe(9)
        create_account(store, DEMO_ADMIN, password, "admin")
        lines.append(f"admin     {DEMO_ADMIN} / {password}")
    for username in DEMO_REVIEWERS:
        if account_id(store, username) is not None:
            continue  # an account of that name was made by hand: leave it alone
        password = secrets.token_urlsafe(9)
        add_reviewer(store, DEMO_STUDY, username, password)
        lines.append(f"reviewer  {username} / {password}")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path
