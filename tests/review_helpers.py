"""Shared by the review tests: the `fairskin` command line, the demo's arms, small studies, the database."""

from __future__ import annotations

import contextlib
import io
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from fairskin_core.workspace import Workspace
from review_data.store import workspace_store, workspace_studies_dir
from review_data.study import add_reviewer, create_study

from .conftest import sign_in


def fairskin(home: Path, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`fairskin ARGS` on workspace ``home`` with ``stdin`` typed in: its exit status and what it printed.

    Run in this process: another process than a running server's, as an admin's terminal beside it is, without paying the
    app's imports again for every command (the console script itself is run in test_cli)."""
    printed, errors = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
        patch.setenv("FAIRSKIN_HOME", str(home))
        patch.setattr(sys, "stdin", io.StringIO(stdin or ""))
        try:
            status = main([str(arg) for arg in args])
        except SystemExit as exited:  # argparse's refusals
            status = exited.code
    return subprocess.CompletedProcess(["fairskin", *map(str, args)], status, printed.getvalue(), errors.getvalue())


def arm_manifests(home: Path) -> tuple[Path, Path]:
    """The demo's arms, rendered and generated into ``home`` by the app's first start."""
    (real,) = (home / "phantoms").glob("default-*")
    (synthetic,) = (home / "synthetic").glob("default-model-*")
    return real / "manifest.csv", synthetic / "manifest.csv"


def make_study(home: Path, name: str, n_per_arm: int, reviewers: list[str], seed: int = 0, n_practice: int = 0) -> None:
    """A study of the demo's arms made in workspace ``home`` as `fairskin study create` makes it, its reviewers enrolled, through
    the library in this process (the command, a process of its own that pays the app's imports, is tested in test_cli)."""
    real, synthetic = arm_manifests(home)
    workspace = Workspace(home)
    store = workspace_store(workspace)
    try:
        create_study(store, workspace_studies_dir(workspace), name, real, synthetic, n_per_arm=n_per_arm, seed=seed, n_practice=n_practice)
        for reviewer in reviewers:
            add_reviewer(store, name, reviewer, f"password-{reviewer}")
    finally:
        store.close()


def phantom_arms(root: Path, n: int = 40, size: int = 64) -> tuple[Path, Path]:
    """Two phantom sets as a study's arms (manifests): HAM10000-like as real, balanced as synthetic, seeds apart."""
    from fairskin_core.phantoms.dataset import write_phantom_dataset

    return (write_phantom_dataset(root / "real", n=n, preset="ham10000", size=size, seed=0, workers=1),
            write_phantom_dataset(root / "synthetic", n=n, preset="balanced", size=size, seed=1, workers=1))


def database(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(home / "review.db")


def saved_ratings(home: Path, reviewer: str, study: str, columns: str) -> list[tuple]:
    """``columns`` of the reviewer's saved ratings in the study, by position (``g.position``, ``r.realism`` ...)."""
    with database(home) as db:
        return db.execute(
            f"SELECT {columns} FROM ratings r JOIN accounts a ON a.id = r.reviewer_id JOIN studies s ON s.id = r.study_id"
            " JOIN assignments g ON g.reviewer_id = r.reviewer_id AND g.image_id = r.image_id AND g.study_id = r.study_id"
            " WHERE a.username = ? AND s.name = ? ORDER BY g.position", (reviewer, study)
        ).fetchall()


def answer(page, call_key: str, realism: int, checklist: str) -> None:
    """Answer the image on screen by its shortcuts (call, realism) and the same answer to all four ABCD questions."""
    page.locator("body").click(position={"x": 5, "y": 5})  # shortcuts act when no text field has focus
    page.keyboard.press(call_key)
    page.keyboard.press(str(realism))
    for item in ("asymmetry", "border", "colour", "diameter"):
        page.locator(f"#answer-abcd-{item}").get_by_label(checklist, exact=True).check()


def answer_and_save(page, call_key: str, realism: int, checklist: str) -> None:
    """`answer` the image on screen, and save."""
    answer(page, call_key, realism, checklist)
    page.locator("#save-next").click()


def reviewing(browser, server: str, home: Path, study: str, reviewer: str, n_per_arm: int = 2, seed: int = 0,
              viewport: tuple[int, int] = (1300, 1400), made: bool = False, touch: bool = False):
    """A browser page (with a touch screen if ``touch``) of a new reviewer of a new study (or of ``made``, one made
    already), signed in, past the instructions and at the study's first image."""
    expect = pytest.importorskip("playwright.sync_api").expect
    if not made:
        make_study(home, study, n_per_arm, [reviewer], seed=seed)
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]}, has_touch=touch)
    sign_in(page, server, reviewer, f"password-{reviewer}")
    expect(page.locator("#signed-in")).to_contain_text(reviewer, timeout=30_000)
    page.locator("#review-begin").click(timeout=30_000)  # the study opened by itself, at the instructions of a first visit
    expect(page.locator("#review-picture")).to_be_visible(timeout=30_000)
    return page
