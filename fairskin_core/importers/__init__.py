"""Dataset importers: a public dataset's metadata and images → a fairskin manifest.

    report = import_dataset("ham10000", Path("HAM10000_metadata.csv"),
                            images=Path("data/ham/images"), out=Path("data/ham/manifest.csv"))

One small module per format maps its metadata rows to canonical labels; ``common`` then finds
each image under ``images`` (one folder or several), writes the manifest and
``<manifest stem>.missing.csv`` beside it, and returns an ImportReport. The manifest may be
written anywhere: images below its folder are stored relative to it, images elsewhere (a
read-only dataset folder) relative to their folder, recorded as the row's ``image_root``. Bad metadata raises
MetadataError naming the file, row and field, and nothing is written. docs/datasets.md lists
every mapping decision.
"""

from __future__ import annotations

from pathlib import Path

from . import ddi, fitzpatrick17k, ham10000, isic2016, isic2017, isic2018, isic2019, isic2020, pad_ufes20, scin
from .common import DatasetImportError, ImportReport, MetadataError, check_paths, write_import

__all__ = ["FORMATS", "DatasetImportError", "ImportReport", "MetadataError", "import_dataset"]

_MODULES = {m.NAME: m for m in (ham10000, isic2016, isic2017, isic2018, isic2019, isic2020, fitzpatrick17k, ddi, pad_ufes20, scin)}
FORMATS = tuple(_MODULES)


def import_dataset(
    format: str, metadata: Path | list[Path], images: Path | list[Path], out: Path, *, strict: bool = False
) -> ImportReport:
    """Import one dataset; ``scin`` takes [scin_cases.csv, scin_labels.csv], ISIC 2016-2018 one file per split, the others one file.

    Images missing under ``images`` are skipped and listed, unless ``strict``.
    """
    if format not in _MODULES:
        raise DatasetImportError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
    paths = [Path(p) for p in (metadata if isinstance(metadata, (list, tuple)) else [metadata])]
    images = [Path(p) for p in (images if isinstance(images, (list, tuple)) else [images])]
    out = Path(out)
    check_paths(paths, images, out)
    return write_import(format, _MODULES[format].read(paths), images, out, strict=strict)
