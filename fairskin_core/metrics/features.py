"""Inception features of image files: decoded in parallel, cached by content, failures never dropped.

Features are what FID, KID and the memorization check are made of, and the Inception is by far
the slowest step, so each image's features are cached in SQLite under the SHA-256 of the file's
bytes and the extractor's `id`: a real set is computed once, a changed file (new bytes) is
recomputed on its own, and other weights or preprocessing never read the wrong features.
Statistics (mean, covariance) are not cached: they are derived from the cached features.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sqlite_utils import Database

from ..hashing import file_sha256
from ..images import ImageFileError, read_rgb
from ..sqlite import connect, immediate_transaction
from ..workspace import Workspace
from .inception import FEATURE_DIM, TF_CLASSES, InceptionExtractor, preprocess_image

CACHE_FILE = "inception_features.sqlite"
CACHE_TABLE = "inception_features"
LOOKUP_CHUNK = 500  # keys per SELECT ... IN (...), below SQLite's limit on parameters


@dataclass(frozen=True)
class FeatureResult:
    """Features of ``paths``, row for row; rows of files that could not be read are NaN."""

    paths: list[Path]
    features: np.ndarray  # N×2048 float64
    logits: np.ndarray | None  # N×1008 float64, None where the weights have no classifier
    failures: list[tuple[Path, str]]  # (file, why), in input order
    cached: int  # how many images came from the cache

    @property
    def ok(self) -> np.ndarray:
        """Which rows hold features (False for the files in `failures`)."""
        return ~np.isnan(self.features[:, 0])


class FeatureCache:
    """Features per (file SHA-256, extractor id) in one SQLite file, shared safely between processes.

    Connections follow `fairskin_core.sqlite.connect` (WAL, so readers run beside a writer; a busy
    timeout, so a second process waits for the lock instead of failing); each batch of new
    features is committed as it is computed.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._writing() as db:
            db[CACHE_TABLE].create(
                {"sha256": str, "extractor": str, "features": bytes, "logits": bytes},
                pk=("sha256", "extractor"),
                if_not_exists=True,
            )

    @classmethod
    def of_workspace(cls, workspace: Workspace) -> FeatureCache:
        """The workspace's cache (``$FAIRSKIN_HOME/cache/inception_features.sqlite``): what `fairskin metrics` and the app use."""
        return cls(workspace.folder("cache") / CACHE_FILE)

    @contextlib.contextmanager
    def _database(self) -> Iterator[Database]:
        """A connection of its own for each use (so threads can share the cache), in autocommit."""
        db = connect(self.path)
        try:
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Database]:
        """A write transaction on a fresh connection (see `immediate_transaction`)."""
        with self._database() as db, immediate_transaction(db):
            yield db

    def get(self, digests: Iterable[str], extractor_id: str) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
        """The cached (features, logits) of each digest that has them (float32)."""
        digests, found = list(digests), {}
        with self._database() as db:
            for start in range(0, len(digests), LOOKUP_CHUNK):
                chunk = digests[start : start + LOOKUP_CHUNK]
                rows = db.execute(
                    f"SELECT sha256, features, logits FROM {CACHE_TABLE} WHERE extractor = ? AND sha256 IN ({','.join('?' * len(chunk))})",
                    [extractor_id, *chunk],
                )
                for digest, features, logits in rows:
                    found[digest] = (np.frombuffer(features, np.float32), None if logits is None else np.frombuffer(logits, np.float32))
        return found

    def put(self, digests: Sequence[str], extractor_id: str, features: np.ndarray, logits: np.ndarray | None) -> None:
        """Store one batch (float32 rows) in one transaction."""
        rows = [
            {
                "sha256": digest,
                "extractor": extractor_id,
                "features": np.ascontiguousarray(features[i], np.float32).tobytes(),
                "logits": None if logits is None else np.ascontiguousarray(logits[i], np.float32).tobytes(),
            }
            for i, digest in enumerate(digests)
        ]
        with self._writing() as db:
            db[CACHE_TABLE].insert_all(rows, replace=True)


class _DecodedImages(torch.utils.data.Dataset):
    """Files → network inputs, in DataLoader workers; an unreadable file gives its reason instead."""

    def __init__(self, paths: list[Path], preprocessing: str):
        self.paths = paths
        self.preprocessing = preprocessing

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor | None, str | None]:
        try:
            return i, preprocess_image(read_rgb(self.paths[i]), self.preprocessing), None
        except ImageFileError as exc:
            return i, None, str(exc)


def _collate(items: list[tuple[int, torch.Tensor | None, str | None]]) -> tuple[list[int], torch.Tensor | None, list[tuple[int, str]]]:
    decoded = [(i, x) for i, x, _ in items if x is not None]
    failed = [(i, why) for i, x, why in items if x is None]
    return [i for i, _ in decoded], torch.stack([x for _, x in decoded]) if decoded else None, failed


def extract_features(
    paths: Sequence[str | Path],
    extractor: InceptionExtractor,
    *,
    cache: FeatureCache | None = None,
    batch_size: int = 50,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FeatureResult:
    """Inception features of every file in ``paths`` (in that order), from the cache where it has them.

    ``cache``: where features are kept between runs (`FeatureCache.of_workspace`: the workspace's); None (or False)
    for none. Images of any sizes mix freely (each is resized to 299).
    A file that cannot be read is listed in ``failures`` and its row is NaN. ``progress(done, total)``
    is called as images are done.
    """
    paths = [Path(p) for p in paths]
    n = len(paths)
    features = np.full((n, FEATURE_DIM), np.nan)
    logits = np.full((n, TF_CLASSES), np.nan) if extractor.has_logits else None
    failures: dict[int, str] = {}
    digests: dict[int, str] = {}
    for i, path in enumerate(paths):
        try:
            digests[i] = file_sha256(path)
        except OSError as exc:
            failures[i] = f"{path}: cannot be read ({exc.strerror or exc})"

    hits = cache.get(set(digests.values()), extractor.id) if cache else {}
    todo = []
    for i, digest in digests.items():
        if digest in hits:
            features[i], cached_logits = hits[digest]
            if logits is not None:
                logits[i] = cached_logits
        else:
            todo.append(i)
    cached = len(digests) - len(todo)
    done = n - len(todo)
    if progress:
        progress(done, n)

    workers = min(os.cpu_count() or 1, 8) if workers is None else workers  # decoding processes, as pytorch-fid
    loader = torch.utils.data.DataLoader(
        _DecodedImages([paths[i] for i in todo], extractor.preprocessing),
        batch_size=batch_size,
        num_workers=min(workers, math.ceil(len(todo) / batch_size)),
        collate_fn=_collate,
        pin_memory=extractor.device.type == "cuda",
    )
    for positions, batch, failed in loader:
        failures.update({todo[position]: why for position, why in failed})
        if batch is not None:
            rows = [todo[position] for position in positions]
            batch_features, batch_logits = extractor.forward(batch)
            features[rows] = batch_features
            if logits is not None:
                logits[rows] = batch_logits
            if cache:
                cache.put([digests[i] for i in rows], extractor.id, batch_features, batch_logits)
        done += len(positions) + len(failed)
        if progress:
            progress(done, n)
    return FeatureResult(paths, features, logits, [(paths[i], failures[i]) for i in sorted(failures)], cached)
