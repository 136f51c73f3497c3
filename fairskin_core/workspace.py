"""The one workspace folder that holds all of fairskin's state.

`$FAIRSKIN_HOME` (default `~/.fairskin`) holds databases, study images, generated sets,
caches and the default phantom set, so the source tree is never written at run time.
`$FAIRSKIN_OFFLINE` says that nothing may be downloaded into it (weights, VAEs).
`$FAIRSKIN_DATA_ROOTS` (folders separated by ':') and `fairskin serve --data-root` name the
folders beyond the workspace that the web app may read manifests and images from.

Some of the workspace is private state that is never read as a manifest, an image or any
other file a person names, whatever path is typed (`refuse_private`): the SQLite databases
(on POSIX, closing any descriptor of a database file drops every lock the process holds on
it, after which another process may delete the write-ahead log under a running server: saved
ratings vanish), the study folders and the caches (blinded copies, exports with the answer key).

`Workspace.from_environment()` is the one place those variables are read: the entry points (the
`fairskin` verbs, `fairskin serve`) make the `Workspace` once and hand it, or the folder or flag a
call needs, to what they call. Only `refuse_private` looks at the process's workspace itself (its
docstring says why).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "FAIRSKIN_HOME"
OFFLINE_ENV = "FAIRSKIN_OFFLINE"  # set (to anything but 0) to never try a download
DATA_ROOTS_ENV = "FAIRSKIN_DATA_ROOTS"


ADMIN_DOWNLOADS = "admin-downloads"  # the admin app's downloads: exports with the answer key, reports (app/downloads.py)
# blinded study images; caches (served copies, the feature database); the admin app's downloads
PRIVATE_FOLDERS = ("studies", "cache", ADMIN_DOWNLOADS)
REVIEW_DATABASE = "review.db"
DATABASE_FILES = ("", "-wal", "-shm", "-journal")  # a SQLite database's suffixes: the file itself and its side files
# SQLite databases and their side files, wherever they are: a database is never a manifest or an image.
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3", "-wal", "-shm", "-journal")


class PrivatePathError(ValueError):
    """A path that names fairskin's private state; the message says which file and why it is never read."""


@dataclass(frozen=True)
class Workspace:
    """fairskin's state folder (``root``), whether downloads are allowed into it, and the folders beyond it the web app may read.

    ``root`` is made absolute (``~`` expanded, links resolved) on construction; nothing is created until a folder is asked for."""

    root: Path
    offline: bool = False  # never try a download (weights, VAEs)
    data_roots: tuple[Path, ...] = ()  # folders beyond the workspace the web app may read manifests and images from

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser().resolve())
        object.__setattr__(self, "data_roots", tuple(Path(p) for p in self.data_roots))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Workspace:
        """The workspace the environment names: ``$FAIRSKIN_HOME`` (default ``~/.fairskin``), ``$FAIRSKIN_OFFLINE``,
        ``$FAIRSKIN_DATA_ROOTS`` (folders separated by ':'). The only reader of these variables."""
        return cls(root=Path(environ.get(ENV_VAR) or Path.home() / ".fairskin"),
                   offline=environ.get(OFFLINE_ENV, "0") not in ("", "0"),
                   data_roots=tuple(Path(p) for p in environ.get(DATA_ROOTS_ENV, "").split(os.pathsep) if p))

    def folder(self, *parts: str) -> Path:
        """The workspace (no ``parts``) or a sub-folder of it (``phantoms``, ``cache``, ``studies`` ...), created if missing."""
        path = self.root.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def review_database(self) -> Path:
        """The review database's file (``review.db``); its folder is the workspace, made by whoever opens it."""
        return self.root / REVIEW_DATABASE

    def readable_roots(self, extra: list[str | Path] = ()) -> list[Path]:
        """The folders the web app may read from: the workspace, `data_roots` and ``extra``, resolved; each must exist."""
        roots = []
        for folder in [self.folder(), *self.data_roots, *extra]:
            resolved = Path(folder).expanduser().resolve()
            if not resolved.is_dir():
                raise NotADirectoryError(f"data root {folder}: no such folder")
            if resolved not in roots:
                roots.append(resolved)
        return roots

    def private_paths(self) -> list[Path]:
        """The workspace's private files and folders (for servers that must never serve them, too)."""
        return [*(self.root / folder for folder in PRIVATE_FOLDERS),
                *(self.root / f"{REVIEW_DATABASE}{suffix}" for suffix in DATABASE_FILES)]


def refuse_private(path: str | Path, what: str = "a file") -> None:
    """Raise PrivatePathError, before anything opens it, if ``path`` is private state or a NUL-bearing path.

    Decided on the real path (symbolic links followed, nothing opened), so no spelling of the
    path reaches a database or a study folder.

    The one deliberate reader of the process's workspace (`Workspace.from_environment`) outside the
    entry points: this guard runs inside every reader of a path a person typed (images, hashes,
    manifests, metadata, configs), and must hold whatever its caller was handed, so it protects the
    workspace this process serves rather than trusting each of those callers to pass it on."""
    text = os.fspath(path)
    if "\x00" in text:
        raise PrivatePathError(f"{text!r}: the path contains a NUL character; type the path again")
    real = os.path.realpath(text)
    if any(os.path.basename(p).lower().endswith(SQLITE_SUFFIXES) for p in (text, real)):
        raise PrivatePathError(f"{text}: a database file is never read as {what}; give a manifest (.csv or .parquet) or an image")
    root = str(Workspace.from_environment().root)
    for private in _real_private_paths(root):
        if real == private or real.startswith(private + os.sep):
            raise PrivatePathError(f"{text}: this is fairskin's private state ({private}), never read as {what}; "
                                   "a study's results come out with `fairskin study export` or the Studies tab")
    if _same_file_as_database(real, root):  # a hard link has a name of its own: only its inode gives it away
        raise PrivatePathError(f"{text}: this file is the review database under another name, never read as {what}")


def _same_file_as_database(real: str, root: str) -> bool:
    """Whether ``real`` is one of the review database's files (by device and inode: stat opens nothing)."""
    try:
        found = os.stat(real)
    except OSError:
        return False
    if found.st_nlink < 2:
        return False
    for suffix in DATABASE_FILES:
        try:
            database = os.stat(os.path.join(root, REVIEW_DATABASE + suffix))
        except OSError:
            continue
        if (database.st_dev, database.st_ino) == (found.st_dev, found.st_ino):
            return True
    return False


@functools.lru_cache(maxsize=8)
def _real_private_paths(root: str) -> tuple[str, ...]:
    return tuple(os.path.realpath(path) for path in Workspace(Path(root)).private_paths())
