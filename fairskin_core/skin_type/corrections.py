"""Skin types a person corrected after looking at the image: kept apart from every manifest, by image content.

An estimate can be wrong where the reader can see it is (the audit view of the Data tab shows
the images of each estimated type side by side). A correction is stored in the workspace under
the SHA-256 of the image file, so it survives re-importing the data set or writing a new
manifest of the same files; it is applied wherever types are estimated, as ``fst_source =
corrected``, and only to images without an annotated type: an annotation is never written over,
and correcting an annotated image is refused.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..fst import FST_TYPES
from ..hashing import file_sha256
from ..sqlite import connection, immediate_transaction
from ..workspace import Workspace

CORRECTIONS_FILE = "skin_type_corrections.sqlite"
TABLE = "corrections"


@dataclass(frozen=True)
class Correction:
    sha256: str
    fst: int
    image_id: str  # as the manifest named the image when it was corrected
    corrected_by: str
    corrected_at: str
    estimate_was: str  # what it replaced, e.g. "V (learned, 0.41)" or "unknown (low confidence)"


class SkinTypeCorrections:
    """The corrections kept in the file ``path`` (`of_workspace`: the workspace's)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with connection(self.path) as db, immediate_transaction(db):
            db[TABLE].create({"sha256": str, "fst": int, "image_id": str, "corrected_by": str, "corrected_at": str, "estimate_was": str},
                             pk="sha256", if_not_exists=True)

    @classmethod
    def of_workspace(cls, workspace: Workspace) -> SkinTypeCorrections:
        """The workspace's corrections (``$FAIRSKIN_HOME/skin_type_corrections.sqlite``): what the `fairskin` verbs and the app use."""
        return cls(workspace.folder() / CORRECTIONS_FILE)

    def correct(self, image_file: str | Path, fst: int, *, image_id: str, corrected_by: str, annotated_fst: int | None = None,
                estimate_was: str = "") -> Correction:
        """Record that the image in ``image_file`` is of type ``fst``; refused for an image with an annotated type."""
        if annotated_fst is not None:
            raise ValueError(f"{image_id}: annotated as type {annotated_fst}; an annotation is never corrected here "
                             "(edit the manifest if the annotation itself is wrong)")
        if fst not in FST_TYPES:
            raise ValueError(f"{image_id}: {fst!r} is not a Fitzpatrick type; use 1-6")
        correction = Correction(file_sha256(image_file), int(fst), image_id, corrected_by,
                                datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"), estimate_was)
        with connection(self.path) as db, immediate_transaction(db):
            db[TABLE].insert(correction.__dict__, replace=True)
        return correction

    def of(self, digests: Iterable[str]) -> dict[str, Correction]:
        """The correction of each image (by SHA-256) that has one."""
        digests, found = list(dict.fromkeys(digests)), {}
        with connection(self.path) as db:
            for start in range(0, len(digests), 500):
                chunk = digests[start : start + 500]
                for row in db.execute(f"SELECT * FROM {TABLE} WHERE sha256 IN ({','.join('?' * len(chunk))})", chunk):
                    found[row["sha256"]] = Correction(**dict(row))
        return found
