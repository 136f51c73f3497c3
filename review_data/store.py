"""The review database: one SQLite file, one connection per thread, migrations applied once.

Gradio runs handlers on worker threads and sqlite3 connections must not cross threads, so each
thread opens its own, by the rules of `fairskin_core.sqlite.connect` (foreign keys on, a busy
timeout instead of failing when another writer holds the lock, WAL so readers never block the
writer, every commit synced to disk). Writes go through `ReviewStore.write()`, which takes the
write lock up front (BEGIN IMMEDIATE) — a transaction that reads first and upgrades later could
fail with "database is locked" under concurrency, and no such error may reach a reviewer.

Threads of one process also queue for a `threading.Lock` before that: SQLite's own busy wait
polls with growing sleeps (up to 100 ms), so 20 reviewers saving at once waited in those sleeps
long after the lock was free; a thread lock hands over at once. The busy wait is left for other
processes (the CLI beside a running server).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from fairskin_core.sqlite import DatabaseFileError, connect, immediate_transaction
from fairskin_core.workspace import DATABASE_FILES, Workspace

from .schema import migrations


def utc_now() -> str:
    """A timestamp for the database: ISO 8601, UTC, microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


class ReviewStore:
    """Access to one review database file, safe to share between threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        try:
            with self.write() as db:  # the write lock keeps two processes from migrating at once
                migrations.apply(db)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):
                raise
            self.close()
            raise DatabaseFileError(f"{self.path}: the review database is damaged ({exc}); restore it from a backup "
                                    "(docs/deployment.md)") from None

    @property
    def db(self) -> Database:
        """This thread's connection (autocommit outside `write()`)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = connect(self.path)
        return db

    @contextlib.contextmanager
    def write(self) -> Iterator[Database]:
        """A write transaction holding the lock from its start; commits, or rolls back on error."""
        with self._write_lock, immediate_transaction(self.db) as db:
            yield db

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None


def workspace_store(workspace: Workspace) -> ReviewStore:
    """The review database of ``workspace`` (``$FAIRSKIN_HOME/review.db``)."""
    return ReviewStore(workspace.review_database)


def workspace_studies_dir(workspace: Workspace) -> Path:
    """Where the studies of ``workspace`` keep their blinded images (``$FAIRSKIN_HOME/studies``), created if missing."""
    return workspace.folder("studies")


@dataclass(frozen=True)
class Backup:
    """A backup file and what it holds (counted in the copy itself)."""

    path: Path
    studies: int
    ratings: int


def backup(store: ReviewStore, out: str | Path) -> Backup:
    """A consistent copy of the review database at ``out``, safe to take while the server is saving ratings.

    SQLite's online backup copies the pages as one snapshot (a file copy of a live WAL database can
    miss what the write-ahead log holds, or tear mid-write). The copy is checked, made a single
    self-contained file (no -wal beside it), and appears at ``out`` only when complete."""
    out = Path(out)
    live = {os.path.realpath(f"{store.path}{suffix}") for suffix in DATABASE_FILES}
    if os.path.realpath(out) in live:
        raise ValueError(f"{out} is the live database itself; give the backup a file of its own")
    if out.exists():
        raise FileExistsError(f"{out} exists; give the backup a new file name (nothing was written)")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"{out.parent}: no such folder for the backup")
    partial = out.with_name(f".{out.name}.partial")
    try:
        copy = sqlite3.connect(partial)
        try:
            store.db.conn.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")
            checked = copy.execute("PRAGMA integrity_check").fetchone()[0]
            studies, ratings = copy.execute("SELECT (SELECT count(*) FROM studies), (SELECT count(*) FROM ratings)").fetchone()
        finally:
            copy.close()
        if checked != "ok":
            raise DatabaseFileError(f"{store.path}: the backup's integrity check says {checked!r}; nothing was written to {out}")
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return Backup(out, studies, ratings)
