"""Where a manifest's images may be read from: each row's image root, and the folders allowed.

A row's ``image_path`` is relative to its image root (the manifest's folder, or the folder
its ``image_root`` names). Paths may not leave that root, through '..' or a symbolic link, and
in the web app the root itself must lie inside a folder an admin allowed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")


def inside(path: str | Path, folder: str | Path) -> bool:
    """Whether the real (symlink-resolved) ``path`` is ``folder`` or lies below it."""
    real, real_folder = os.path.realpath(path), os.path.realpath(folder)
    return real == real_folder or real.startswith(real_folder.rstrip(os.sep) + os.sep)


# --- parsing one field -------------------------------------------------------------------------


class RelativePaths:
    """Turns a row's relative paths into files inside its image root, refusing any that leave it.

    ``where`` names the root in messages ("the manifest's folder", or the image_root). Lexical
    checks (absolute paths, '..', Windows paths) need no disk access; where files are checked,
    symbolic links are followed too. Each folder is resolved once, so validating a 100k-row
    manifest does not resolve 100k paths component by component.
    """

    def __init__(self, root: Path, follow_links: bool = True, where: str = "the manifest's folder"):
        self.root = root
        self.real_root = os.path.realpath(root)
        self.follow_links = follow_links
        self.where = where
        self._real_dirs: dict[str, str] = {}

    def _inside(self, real: str) -> bool:
        return real == self.real_root or real.startswith(self.real_root.rstrip(os.sep) + os.sep)

    def file(self, text: str) -> str:
        where = self.where
        if text == "":
            raise ValueError(f"is empty; give the file's path relative to {where}")
        if "\x00" in text:
            raise ValueError("contains a NUL character")
        if "\\" in text or _WINDOWS_DRIVE.match(text):
            raise ValueError(f"{text!r} is a Windows-style path; use forward slashes, relative to {where}")
        if text.startswith("/"):
            raise ValueError(
                f"{text!r} is an absolute path; paths must be relative to {where} (for images elsewhere, "
                "give their folder in the image_root column)"
            )
        if ".." in text.split("/"):
            raise ValueError(f"{text!r} goes up out of {where} ('..'); move the file inside it, or set image_root")
        full = os.path.join(self.root, text)
        if self.follow_links:
            folder, _, name = text.rpartition("/")
            real_folder = self._real_dirs.get(folder)
            if real_folder is None:
                real_folder = self._real_dirs[folder] = os.path.realpath(os.path.join(self.root, folder))
            real = os.path.join(real_folder, name)
            if os.path.islink(real):
                real = os.path.realpath(real)
            if not self._inside(real_folder) or not self._inside(real):
                raise ValueError(f"{text!r} leads outside {self.where} through a symbolic link")
        return full


class ImageRoots:
    """The image roots of a manifest's rows: its folder, or the folder a row's ``image_root`` names.

    Each root is checked once: it must be a folder (where files are checked) and, when
    ``allowed`` is given (the web app), lie inside one of those folders after resolving
    symbolic links — so a manifest typed into the app cannot make the server read elsewhere.
    """

    def __init__(self, folder: Path, follow_links: bool, allowed: list[Path] | None = None):
        self.folder = folder
        self.follow_links = follow_links
        self.allowed = allowed
        self._paths: dict[str, RelativePaths | ValueError] = {}

    def paths(self, image_root: str) -> RelativePaths:
        if image_root not in self._paths:
            try:
                self._paths[image_root] = self._check(image_root)
            except ValueError as exc:
                self._paths[image_root] = exc
        found = self._paths[image_root]
        if isinstance(found, ValueError):
            raise found
        return found

    def _check(self, image_root: str) -> RelativePaths:
        if "\x00" in image_root:
            raise ValueError("contains a NUL character")
        if "\\" in image_root or _WINDOWS_DRIVE.match(image_root):
            raise ValueError(f"{image_root!r} is a Windows-style path; use forward slashes")
        root = self.folder / image_root if image_root else self.folder
        where = f"its image_root {image_root!r}" if image_root else "the manifest's folder"
        if image_root and self.follow_links and not root.is_dir():
            raise ValueError(f"{image_root!r} is not a folder ({root}); give the folder that holds the images")
        if self.allowed is not None and not any(inside(root, folder) for folder in self.allowed):
            raise ValueError(
                f"{root} is outside the folders this app may read ({', '.join(map(str, self.allowed))}); "
                "an admin adds folders by restarting `fairskin serve --data-root FOLDER [FOLDER ...]` (or $FAIRSKIN_DATA_ROOTS)"
            )
        return RelativePaths(root, follow_links=self.follow_links, where=where)
