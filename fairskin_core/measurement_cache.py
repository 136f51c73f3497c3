"""Per-image measurements cached by content, so a real set is measured once.

Skin tone, ABCD and the learned skin type take minutes on a real set (ISIC 2017: about four);
opening it again — in the Data tab, from the command line, when a study is created — reads
them back. Each record is stored under a key made of the SHA-256 of the bytes it was measured
from (the image, and its mask where one was used) and the measurer's id, which names the
method and its version: a changed file, a new method or other weights are measured afresh,
never read back wrong. One SQLite file beside the Inception feature cache, with the same rules
(`fairskin_core.sqlite.connect`: WAL, a busy timeout; a connection per use, so threads share it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from .sqlite import connection, immediate_transaction
from .workspace import Workspace

CACHE_FILE = "measurements.sqlite"
TABLE = "measurements"
LOOKUP_CHUNK = 500  # keys per SELECT ... IN (...), below SQLite's limit on parameters


class MeasurementCache:
    """JSON records per (content key, measurer id) in one SQLite file, shared safely between processes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with connection(self.path) as db, immediate_transaction(db):
            db[TABLE].create({"key": str, "measurer": str, "record": str}, pk=("key", "measurer"), if_not_exists=True)

    @classmethod
    def of_workspace(cls, workspace: Workspace) -> MeasurementCache:
        """The workspace's cache (``$FAIRSKIN_HOME/cache/measurements.sqlite``): what the `fairskin` verbs and the app use."""
        return cls(workspace.folder("cache") / CACHE_FILE)

    def get(self, keys: Iterable[str], measurer: str) -> dict[str, dict]:
        """The cached record of each key that has one."""
        keys, found = list(dict.fromkeys(keys)), {}
        with connection(self.path) as db:
            for start in range(0, len(keys), LOOKUP_CHUNK):
                chunk = keys[start : start + LOOKUP_CHUNK]
                rows = db.execute(
                    f"SELECT key, record FROM {TABLE} WHERE measurer = ? AND key IN ({','.join('?' * len(chunk))})", [measurer, *chunk])
                found.update((key, json.loads(record)) for key, record in rows)
        return found

    def put(self, records: dict[str, dict], measurer: str) -> None:
        """Store records (key → JSON-able dict) in one transaction."""
        rows = [{"key": key, "measurer": measurer, "record": json.dumps(record, default=_plain)} for key, record in records.items()]
        with connection(self.path) as db, immediate_transaction(db):
            db[TABLE].insert_all(rows, replace=True)


def _plain(value):
    """numpy scalars (a measurement's integers and booleans) as the Python values JSON knows."""
    return value.item()


def content_key(*digests: str | None, extra: str = "") -> str:
    """One key for what a measurement was made from: file digests (None where a file was not used) and settings."""
    return "|".join([*(digest or "-" for digest in digests), extra])
