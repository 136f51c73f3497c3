"""The review database is never opened as a file, whatever path names it: a server's SQLite locks and WAL survive.

On POSIX, closing any descriptor of a file drops every lock the process holds on it. A server that
opened ``review.db`` as a "manifest" lost its locks; the next process to open and close the database
then deleted the write-ahead log under it, and every rating saved afterwards vanished at restart.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from fairskin_core.config_file import read_config_values
from fairskin_core.hashing import file_sha256
from fairskin_core.images import read_rgb
from fairskin_core.importers.common import read_rows
from fairskin_core.manifest import read_manifest
from fairskin_core.phantoms.dataset import write_phantom_dataset
from fairskin_core.workspace import PrivatePathError, Workspace, refuse_private
from review_data.store import ReviewStore

OPEN_AND_CLOSE = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('SELECT 1 FROM sqlite_master').fetchall(); c.close()"
COUNT = "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM accounts').fetchone()[0])"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("FAIRSKIN_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def add_account(store: ReviewStore, name: str) -> None:
    with store.write() as db:
        db.execute("INSERT INTO accounts (username, password_hash, role, created_at) VALUES (?, 'x', 'reviewer', '2026-01-01')", [name])


def readers(tmp_path: Path) -> dict:
    """Every way a person's path reaches an open(): manifests, images, metadata, hashes, configs."""
    return {
        "manifest": lambda path: read_manifest(path, check_files="none"),
        "image": read_rgb,
        "metadata": lambda path: read_rows(Path(path), ["image_id"], "ham10000"),
        "hash": file_sha256,
        "config": lambda path: read_config_values(dict, path, {}),
    }


def test_no_spelling_of_the_database_is_opened_and_the_servers_wal_survives(home, tmp_path):
    store = ReviewStore(home / "review.db")  # this process plays the server: its connection holds the locks
    add_account(store, "before")
    database = home / "review.db"
    assert (home / "review.db-wal").exists()
    (tmp_path / "link.csv").symlink_to(database)
    os.link(database, home / "hard-link.csv")  # another name, the same inode
    spellings = [database, home / "review.db-wal", home / "review.db-shm", f"{home}/../home/review.db", tmp_path / "link.csv",
                 home / "hard-link.csv"]
    for what, read in readers(tmp_path).items():
        for path in spellings:
            with pytest.raises(PrivatePathError, match="never read as"):
                read(path)
            assert (home / "review.db-wal").exists(), (what, path)

    # A manifest whose image is the database: refused when the image is opened, before any byte is read.
    manifest = home / "sneaky.csv"
    pd.DataFrame([{"image_id": "x", "image_path": "review.db", "diagnosis": "nevus", "malignant": "false", "fst": "",
                   "fst_source": "", "source": "real", "dataset": "x", "split": ""}]).to_csv(manifest, index=False)
    with pytest.raises(ValueError, match="database file is never read as an image"):
        read_manifest(manifest, check_files="header")

    # Another process opens and closes the database: with our locks intact it must not checkpoint and delete the WAL.
    subprocess.run([sys.executable, "-c", OPEN_AND_CLOSE, str(database)], check=True)
    assert (home / "review.db-wal").exists()
    add_account(store, "after")  # written into the WAL the other process left alone
    counted = subprocess.run([sys.executable, "-c", COUNT, str(database)], check=True, capture_output=True, text=True)
    assert counted.stdout.strip() == "2"


def test_the_study_folders_and_caches_are_private_too(home, tmp_path):
    phantoms = write_phantom_dataset(tmp_path / "phantoms", n=2, preset="balanced", size=32, seed=0, workers=1)
    for folder in ("studies/pilot/images", "cache/review-images", "admin-downloads/export-1"):
        (home / folder).mkdir(parents=True)
        copy = home / folder / "image.png"
        copy.write_bytes((phantoms.parent / pd.read_csv(phantoms)["image_path"][0]).read_bytes())
        with pytest.raises(PrivatePathError, match="fairskin's private state"):
            read_rgb(copy)
    with pytest.raises(PrivatePathError, match="NUL character"):
        refuse_private(f"{phantoms}\x00.csv", "a manifest")
    assert read_manifest(phantoms).table.shape[0] == 2  # an ordinary manifest and its images are read as before


def test_the_environment_is_read_once_into_a_workspace_that_names_its_folders(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    named = {"FAIRSKIN_HOME": str(tmp_path / "home"), "FAIRSKIN_OFFLINE": "1", "FAIRSKIN_DATA_ROOTS": f"{data}{os.pathsep}"}
    workspace = Workspace.from_environment(named)
    assert (workspace.root, workspace.offline, workspace.data_roots) == (tmp_path / "home", True, (data,))
    assert not workspace.root.exists()  # nothing is made until a folder is asked for
    assert workspace.folder("cache", "review-images").is_dir() and workspace.review_database == tmp_path / "home" / "review.db"
    assert workspace.readable_roots([data / "."]) == [tmp_path / "home", data]
    assert not Workspace.from_environment({"FAIRSKIN_OFFLINE": "0"}).offline
    assert Workspace.from_environment({}).root == (Path.home() / ".fairskin").resolve()
    with pytest.raises(NotADirectoryError, match="data root .*missing: no such folder"):
        Workspace(tmp_path, data_roots=(tmp_path / "missing",)).readable_roots()
