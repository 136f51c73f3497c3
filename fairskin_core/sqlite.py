"""SQLite for the stores (the review database, the feature cache): one rule for every connection.

`connect` opens a connection the same way for both: autocommit (transactions are explicit, see
`immediate_transaction`), a busy timeout so a second writer waits for the lock instead of failing,
WAL so readers never block the writer, synchronous FULL so a committed write survives a power cut
(a saved rating, not only a crash), foreign keys enforced, and rows readable by name or position.

sqlite3 connections must not cross threads (it refuses, and Gradio runs handlers on worker
threads): the review store keeps one per thread, the feature cache opens one per use.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from sqlite_utils import Database

BUSY_TIMEOUT_MS = 60_000


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode, which it keeps. Of two connections doing so at the same moment, the
    second gets "database is locked" at once, without the busy timeout: it retries until then."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class DatabaseFileError(ValueError):
    """A database file SQLite cannot use (damaged, or not a database); the message names it and what to do."""


def connect(path: str | Path) -> Database:
    """A connection to the database file ``path`` for this thread, by the rules in the module docstring."""
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    except sqlite3.OperationalError as exc:  # a folder, a missing parent, no permission
        raise DatabaseFileError(f"{path}: cannot open the database ({exc}); check the path and its permissions") from None
    try:
        _use_wal(conn)
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        conn.close()
        if isinstance(exc, sqlite3.OperationalError):  # still locked after the busy timeout: a fault to trace
            raise
        raise DatabaseFileError(
            f"{path}: not a usable SQLite database ({exc}); restore it from a backup (docs/deployment.md) "
            "or move it aside, and a new empty one is made") from None
    except BaseException:
        conn.close()
        raise
    conn.row_factory = sqlite3.Row
    return Database(conn)


@contextlib.contextmanager
def immediate_transaction(db: Database) -> Iterator[Database]:
    """A write transaction that takes the lock up front (BEGIN IMMEDIATE), so it waits its turn:
    one that read first and upgraded later could fail at once with "database is locked".
    Commits, or rolls back on any error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


@contextlib.contextmanager
def connection(path: str | Path) -> Iterator[Database]:
    """`connect` for one use, closed afterwards: the caches' way, so that threads can share a cache file."""
    db = connect(path)
    try:
        yield db
    finally:
        db.close()
