"""SQLite helpers shared by the stores (the review database, the feature cache)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlite_utils import Database


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
