"""The manifest: one table format that describes any set of skin images, real or synthetic.

A manifest is a CSV (or Parquet) file. Each row is one image; ``image_path`` (and the
optional ``mask_path``) are relative to the row's image root: the manifest's own folder, or
the folder its ``image_root`` names (absolute, or relative to the manifest's folder), so a
manifest can live anywhere — beside its images, or in a project folder while the images stay
on a read-only disk. No path may leave its root, through '..' or a symbolic link. Reading a
manifest validates every row and refuses bad ones with an error that names the row and the
field; writing one is atomic.

Columns (see docs/manifest.md for the full reference):

- core: image_id, image_path, diagnosis, malignant, fst, fst_group, fst_source, source,
  dataset, split
- provenance (synthetic and phantom rows): model_id, model_hash, seed, prompt, scheduler,
  steps, guidance, and source_image for images made from another one (tone transfer)
- optional: image_root, mask_path, pixel_size_mm, dataset_label, lesion_id, patient_id, fst_confidence
  (the probability an estimated type is right, for fst_source learned or ita)
- anything else is kept as text (e.g. the phantom renderer's ``gt_*`` ground truth).
"""

from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import atomic_file
from .csv_text import csv_lines
from .diagnoses import DIAGNOSES, MALIGNANCY
from .fst import ESTIMATED_SOURCES, FST_GROUPS, FST_SOURCES, fst_group
from .image_roots import ImageRoots, inside
from .images import (
    MAX_IMAGE_PIXELS,
    ImageFileError,
    check_image_header,
    read_mask,
    read_rgb,
)
from .workspace import refuse_private

CORE_COLUMNS = (
    "image_id",
    "image_path",
    "diagnosis",
    "malignant",
    "fst",
    "fst_group",
    "fst_source",
    "source",
    "dataset",
    "split",
)
REQUIRED_COLUMNS = tuple(c for c in CORE_COLUMNS if c != "fst_group")
PROVENANCE_COLUMNS = ("model_id", "model_hash", "seed", "prompt", "scheduler", "steps", "guidance", "source_image")
OPTIONAL_COLUMNS = ("image_root", "mask_path", "pixel_size_mm", "dataset_label", "lesion_id", "patient_id", "fst_confidence")
KNOWN_COLUMNS = CORE_COLUMNS + PROVENANCE_COLUMNS + OPTIONAL_COLUMNS

SOURCES = ("real", "synthetic", "phantom")
SPLITS = ("train", "val", "test")
# Provenance a row must carry, by source. Phantoms are procedural: no scheduler or guidance.
REQUIRED_PROVENANCE = {
    "synthetic": ("model_id", "model_hash", "seed", "scheduler", "steps", "guidance"),
    "phantom": ("model_id", "model_hash", "seed"),
}
PHYSICAL_TRANSFER = "melanin-density"  # the `method` in `source_image` of a physically based tone transfer: nothing denoised
CHECK_LEVELS = ("none", "exists", "header", "decode")
_TYPED_COLUMNS = {
    "malignant": "boolean", "fst": "Int64", "seed": "Int64", "steps": "Int64", "guidance": "Float64", "pixel_size_mm": "Float64",
    "fst_confidence": "Float64",
}

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}
_INT_PATTERN = re.compile(r"[+-]?\d+")
_MAX_LISTED = 25


@dataclass(frozen=True)
class ManifestIssue:
    """One problem in one row (or in the header, where ``location`` says so)."""

    location: str
    field: str
    message: str
    image_id: str = ""

    def __str__(self) -> str:
        who = f" (image_id {self.image_id!r})" if self.image_id else ""
        field = f", field {self.field!r}" if self.field != "-" else ""  # "-": about the whole file or line, not one field
        return f"{self.location}{who}{field}: {self.message}"


class ManifestError(ValueError):
    """A manifest with bad rows. ``issues`` lists every problem found."""

    def __init__(self, source: str, issues: list[ManifestIssue]):
        self.source = source
        self.issues = issues
        shown = "\n".join(f"  {issue}" for issue in issues[:_MAX_LISTED])
        more = f"\n  ... and {len(issues) - _MAX_LISTED} more" if len(issues) > _MAX_LISTED else ""
        noun = "problem" if len(issues) == 1 else "problems"
        super().__init__(f"{source}: {len(issues)} {noun}:\n{shown}{more}")

    @classmethod
    def about(cls, source: str, location: str, problem: str) -> ManifestError:
        """One problem at ``location`` (a line, or the whole ``file``) that no field holds."""
        return cls(source, [ManifestIssue(location, "-", problem)])


@dataclass
class Manifest:
    """A validated manifest: its table and its folder, which relative image roots start from."""

    table: pd.DataFrame
    root: Path
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.table)

    def image_root(self, image_root: str = "") -> Path:
        """The folder a row's paths are relative to (an absolute ``image_root`` ignores ``root``)."""
        return self.root / image_root if image_root else self.root

    def image_file(self, image_path: str, image_root: str = "") -> Path:
        return self.image_root(image_root) / image_path

    def mask_file(self, mask_path: str, image_root: str = "") -> Path | None:
        return self.image_root(image_root) / mask_path if mask_path else None

    def image_files(self) -> list[Path]:
        """Every row's image file, in table order."""
        return [self.image_file(p, r) for p, r in zip(self.table["image_path"], self.table["image_root"], strict=True)]

    def relocated_table(self, folder: str | Path) -> pd.DataFrame:
        """The table, with image roots that lead to the same files from a manifest written into ``folder``."""
        table = self.table.copy()
        if Path(folder).resolve() != self.root.resolve():
            table["image_root"] = [str(self.image_root(root).resolve()) for root in table["image_root"]]
        return table


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a boolean; write true or false (or leave it empty if unknown)")


def _parse_int(text: str, field: str) -> int:
    if not _INT_PATTERN.fullmatch(text.strip()):
        raise ValueError(f"{text!r} is not a whole number; {field} must be an integer")
    return int(text)


def _parse_fst(text: str) -> int | None:
    if text == "":
        return None
    hint = "write 1-6 (for types I-VI), or leave it empty if unknown"
    if not _INT_PATTERN.fullmatch(text.strip()):
        raise ValueError(f"{text!r} is not a Fitzpatrick skin type; {hint}")
    value = int(text)
    if not 1 <= value <= 6:
        raise ValueError(f"{value} is outside Fitzpatrick types 1-6; {hint}")
    return value


def _check_file(path: str, level: str, is_mask: bool, max_pixels: int) -> None:
    if level == "none":
        return
    if level == "exists":
        if not os.path.isfile(path):
            raise ImageFileError(f"{path}: file not found")
        return
    if level == "header":
        check_image_header(path, max_pixels)
    elif is_mask:
        read_mask(path, max_pixels)
    else:
        read_rgb(path, max_pixels)


# --- validating rows ---------------------------------------------------------------------------


def _validate_row(row: dict[str, str], location: str, roots: ImageRoots, check_files: str, max_pixels: int):
    """Parse one raw row into typed values; return (values, issues)."""
    issues: list[ManifestIssue] = []
    image_id = row.get("image_id", "").strip()

    def bad(field: str, message: str) -> None:
        issues.append(ManifestIssue(location, field, message, image_id))

    values: dict[str, object] = {k: v for k, v in row.items()}
    if not image_id:
        bad("image_id", "is empty; every image needs a unique id")
    values["image_id"] = image_id

    try:
        paths = roots.paths(row.get("image_root", ""))
    except ValueError as exc:
        bad("image_root", str(exc))
        paths = None
    for field, is_mask in (("image_path", False), ("mask_path", True)):
        text = row.get(field, "")
        if paths is None or (field == "mask_path" and text == ""):
            continue
        try:
            _check_file(paths.file(text), check_files, is_mask, max_pixels)
        except (ValueError, ImageFileError) as exc:
            bad(field, str(exc))

    diagnosis = row.get("diagnosis", "")
    if diagnosis not in DIAGNOSES:
        bad("diagnosis", f"{diagnosis!r} is not a known diagnosis; use one of: {', '.join(DIAGNOSES)}")

    values["malignant"] = None
    expected = MALIGNANCY.get(diagnosis)
    text = row.get("malignant", "")
    if text == "":
        if expected is not None:
            bad("malignant", f"is empty, but {diagnosis} is always {'malignant' if expected else 'benign'}; write {str(expected).lower()}")
    else:
        try:
            malignant = _parse_bool(text)
            values["malignant"] = malignant
            if expected is not None and malignant != expected:
                bad("malignant", f"{diagnosis} is always {'malignant' if expected else 'benign'}; set malignant to {str(expected).lower()}")
        except ValueError as exc:
            bad("malignant", str(exc))

    fst = None
    try:
        fst = _parse_fst(row.get("fst", ""))
    except ValueError as exc:
        bad("fst", str(exc))
    values["fst"] = fst

    fst_source = row.get("fst_source", "")
    group = row.get("fst_group", "")
    if fst_source == "grouped":
        if row.get("fst", "") != "":
            bad("fst", "must be empty when fst_source is 'grouped' (only the group is known)")
        if group not in FST_GROUPS:
            bad("fst_group", f"{group!r} is not a skin-type group; use one of {', '.join(FST_GROUPS)}")
    elif fst is not None:
        if fst_source not in FST_SOURCES:
            bad("fst_source", f"{fst_source!r} is not an FST source; use one of {', '.join(FST_SOURCES)}")
        if group and group != fst_group(fst):
            bad("fst_group", f"{group!r} does not contain FST {fst} (expected {fst_group(fst)})")
        group = fst_group(fst)
    elif row.get("fst", "") == "":
        if fst_source:
            bad("fst_source", f"is {fst_source!r} but fst is empty; leave both empty when the skin type is unknown")
        if group:
            bad("fst_group", "is set but fst is empty; for a known group only, set fst_source to 'grouped'")
    values["fst_group"] = group

    source = row.get("source", "")
    if source not in SOURCES:
        bad("source", f"{source!r} is not a source; use one of {', '.join(SOURCES)}")
    if not row.get("dataset", ""):
        bad("dataset", "is empty; name the dataset the image comes from")
    split = row.get("split", "")
    if split and split not in SPLITS:
        bad("split", f"{split!r} is not a split; use one of {', '.join(SPLITS)}, or leave it empty")

    required = REQUIRED_PROVENANCE.get(source, ())
    if source == "synthetic" and row.get("source_image", "").startswith(f"method={PHYSICAL_TRANSFER};"):
        required = REQUIRED_PROVENANCE["phantom"]  # no scheduler, steps or guidance: nothing was denoised
    missing = [field for field in required if row.get(field, "") == ""]
    if missing:
        bad(", ".join(missing), f"empty; {source} images must record their provenance ({', '.join(required)})")
    for field in ("seed", "steps"):
        text = row.get(field, "")
        values[field] = None
        if text != "":
            try:
                values[field] = _parse_int(text, field)
            except ValueError as exc:
                bad(field, str(exc))
    for field, positive in (("guidance", False), ("pixel_size_mm", True)):
        text = row.get(field, "")
        values[field] = None
        if text != "":
            try:
                values[field] = float(text)
                if not math.isfinite(values[field]) or (positive and values[field] <= 0):
                    raise ValueError
            except ValueError:
                bad(field, f"{text!r} is not a {'positive ' if positive else ''}number")
    text = row.get("fst_confidence", "")
    values["fst_confidence"] = None
    if text != "":
        try:
            values["fst_confidence"] = float(text)
            if not 0 <= values["fst_confidence"] <= 1:
                raise ValueError
        except ValueError:
            bad("fst_confidence", f"{text!r} is not a probability between 0 and 1")
        if fst_source not in ESTIMATED_SOURCES:
            bad("fst_confidence",
                f"is set but fst_source is {fst_source!r}; only estimated types ({', '.join(ESTIMATED_SOURCES)}) have one")
    return values, issues


def validate_rows(
    rows: list[dict[str, str]],
    locations: list[str],
    root: Path,
    *,
    check_files: str = "header",
    max_pixels: int = MAX_IMAGE_PIXELS,
    allowed_roots: list[Path] | None = None,
) -> tuple[pd.DataFrame, list[ManifestIssue]]:
    """Validate raw text rows (as read from a file); return the typed table and every issue."""
    if check_files not in CHECK_LEVELS:
        raise ValueError(f"check_files must be one of {CHECK_LEVELS}, not {check_files!r}")
    parsed, issues = [], []
    first_seen: dict[str, str] = {}
    roots = ImageRoots(root, follow_links=check_files != "none", allowed=allowed_roots)
    for row, location in zip(rows, locations, strict=True):
        values, row_issues = _validate_row(row, location, roots, check_files, max_pixels)
        image_id = values["image_id"]
        if image_id and image_id in first_seen:
            row_issues.append(ManifestIssue(location, "image_id", f"duplicate id, first used at {first_seen[image_id]}", image_id))
        elif image_id:
            first_seen[image_id] = location
        parsed.append(values)
        issues.extend(row_issues)
    return _typed_table(parsed, rows[0].keys() if rows else REQUIRED_COLUMNS), issues


def _typed_table(parsed: list[dict], columns) -> pd.DataFrame:
    ordered = list(KNOWN_COLUMNS) + [c for c in columns if c not in KNOWN_COLUMNS]
    data = {}
    for column in ordered:
        values = [row.get(column) for row in parsed]
        if column in _TYPED_COLUMNS:
            data[column] = pd.array(values, dtype=_TYPED_COLUMNS[column])
        else:
            data[column] = pd.array(["" if v is None else str(v) for v in values], dtype="str")
    return pd.DataFrame(data)


# --- reading -----------------------------------------------------------------------------------


def _header_issues(columns: list[str], source: str) -> list[ManifestIssue]:
    issues = []
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        issues.append(
            ManifestIssue("header", ", ".join(missing), f"required column(s) missing; a manifest needs {', '.join(REQUIRED_COLUMNS)}")
        )
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        issues.append(ManifestIssue("header", ", ".join(duplicated), "column name(s) appear more than once"))
    return issues


def _read_csv_rows(path: Path) -> tuple[list[str], list[dict[str, str]], list[str]]:
    lines = csv_lines(path, ManifestError)
    first = next(lines, None)
    if first is None:
        raise ManifestError(str(path), [ManifestIssue("header", "-", "the file is empty")])
    header = [h.strip() for h in first[1]]
    header_issues = _header_issues(header, str(path))
    if header_issues:
        raise ManifestError(str(path), header_issues)
    rows, locations, issues = [], [], []
    for index, (line, values) in enumerate(lines, start=1):
        if not any(v.strip() for v in values):
            continue  # blank line
        location = f"row {index} (line {line})"
        if len(values) != len(header):
            issues.append(ManifestIssue(location, "-", f"has {len(values)} cells but the header has {len(header)} columns"))
            continue
        rows.append({k: v.strip() for k, v in zip(header, values, strict=True)})
        locations.append(location)
    if issues:
        raise ManifestError(str(path), issues)
    return header, rows, locations


def _read_parquet_rows(path: Path) -> tuple[list[str], list[dict[str, str]], list[str]]:
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        problem = f"cannot be read as Parquet ({type(exc).__name__}: {str(exc)[:200]}); give a .csv or .parquet manifest"
        raise ManifestError(str(path), [ManifestIssue("file", "-", problem)]) from None
    header = [str(c) for c in frame.columns]
    header_issues = _header_issues(header, str(path))
    if header_issues:
        raise ManifestError(str(path), header_issues)
    rows = [{k: _to_text(v) for k, v in zip(header, values, strict=True)} for values in frame.itertuples(index=False, name=None)]
    return header, rows, [f"row {i}" for i in range(1, len(rows) + 1)]


def read_manifest(
    path: str | Path,
    *,
    check_files: str = "header",
    max_pixels: int = MAX_IMAGE_PIXELS,
    allowed_roots: list[Path] | None = None,
) -> Manifest:
    """Read and validate a manifest (.csv or .parquet).

    ``check_files``: ``none`` (schema only), ``exists``, ``header`` (each image opens and is of
    sane size; the default) or ``decode`` (each image and mask decodes fully).
    ``allowed_roots`` (the web app): the manifest and every image root must lie inside these.
    Raises ManifestError naming every bad row and field.
    """
    refuse_private(path, "a manifest")
    path = Path(path)
    if allowed_roots is not None and not any(inside(path, folder) for folder in allowed_roots):
        raise ManifestError(str(path), [ManifestIssue(
            "file", "-", f"is outside the folders this app may read ({', '.join(map(str, allowed_roots))}); "
            "an admin adds folders by restarting `fairskin serve --data-root FOLDER [FOLDER ...]` (or $FAIRSKIN_DATA_ROOTS)")])
    if not path.is_file():
        raise FileNotFoundError(f"{path}: manifest not found")
    if path.suffix.lower() == ".parquet":
        _, rows, locations = _read_parquet_rows(path)
    else:
        _, rows, locations = _read_csv_rows(path)
    table, issues = validate_rows(rows, locations, path.parent, check_files=check_files, max_pixels=max_pixels, allowed_roots=allowed_roots)
    if issues:
        raise ManifestError(str(path), issues)
    return Manifest(table=table, root=path.parent, path=path)


# --- writing -----------------------------------------------------------------------------------


def _to_text(value) -> str:
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return repr(float(value))  # numpy 2's repr of np.float64 is "np.float64(...)"
    return str(value)


def records_to_table(records: list[dict], root: Path, *, check_files: str = "exists", source: str = "records") -> pd.DataFrame:
    """Validate rows built in Python (importers, renderers) and return the typed table."""
    rows = [{k: _to_text(v) for k, v in record.items()} for record in records]
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    for row in rows:
        for column in columns:
            row.setdefault(column, "")
    header_issues = _header_issues(columns or list(REQUIRED_COLUMNS), source)
    if header_issues:
        raise ManifestError(source, header_issues)
    table, issues = validate_rows(rows, [f"row {i}" for i in range(1, len(rows) + 1)], root, check_files=check_files)
    if issues:
        raise ManifestError(source, issues)
    return table


def write_manifest(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a typed table as CSV or Parquet (by suffix), atomically."""
    path = Path(path)
    columns = [c for c in KNOWN_COLUMNS if c in table.columns] + [c for c in table.columns if c not in KNOWN_COLUMNS]
    table = table[columns]
    if path.suffix.lower() == ".parquet":
        with atomic_file(path, "wb") as handle:
            table.to_parquet(handle, index=False)
        return path
    with atomic_file(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for values in table.itertuples(index=False, name=None):
            writer.writerow([_to_text(v) for v in values])
    return path
