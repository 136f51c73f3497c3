"""What every importer shares: reading metadata, finding images, reporting and writing.

A format module only turns its metadata rows into ``Sample``s (canonical labels plus the file
the row names). Everything after that happens here, once, so every dataset is located,
counted, refused and written the same way: all checks run before anything is written, and
the manifest and its list of missing images replace old files only together.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..atomic import atomic_file
from ..csv_text import csv_lines
from ..diagnoses import DIAGNOSES, MALIGNANCY
from ..errors import ParameterError
from ..fst import FST_GROUPS, FST_TYPES, fst_group
from ..images import ImageFileError, check_image_header
from ..manifest import ManifestError, ManifestIssue, records_to_table, write_manifest
from ..workspace import refuse_private

_LISTED = 5  # file names an error message shows before "and N more"
_FST_KEYS = tuple(str(t) for t in FST_TYPES) + FST_GROUPS + ("unknown",)


class DatasetImportError(ValueError):
    """An import that cannot go ahead; the message says what to change."""


class ImportParameterError(DatasetImportError, ParameterError):
    """An import refused for a value passed to it, named as ``{images}`` or ``{out}`` (`ParameterError`)."""


class MetadataError(DatasetImportError, ManifestError):
    """Bad rows in a metadata file; ``issues`` names each row, field and fix."""


class FieldError(ValueError):
    """One field of the row being mapped is wrong; the message says how to fix it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass
class Sample:
    """One image the metadata names, in canonical terms."""

    image_id: str
    file: str  # as the metadata names it, relative to ``images`` (or just a file name)
    diagnosis: str
    malignant: bool | None  # None: the dataset does not say
    dataset_label: str
    fst: int | None = None
    fst_group: str = ""
    fst_source: str = ""
    lesion_id: str = ""
    patient_id: str = ""
    split: str = ""  # train / val / test where the dataset defines it (ISIC challenge splits)
    extra: dict[str, str] = field(default_factory=dict)
    location: str = ""  # the metadata row, for the missing list


@dataclass
class Metadata:
    """What a format module read: its samples, how many rows they came from, and notes."""

    paths: list[Path]
    rows_read: int
    samples: list[Sample]
    notes: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    """The outcome of an import; counts are over the metadata, found or not."""

    format: str
    manifest: Path
    missing_list: Path
    rows_read: int
    images_listed: int
    images_imported: int
    images_missing: int
    fst_counts: dict[str, int]
    diagnosis_counts: dict[str, int]
    notes: list[str]

    def summary(self) -> str:
        lines = [
            f"{self.format}: {self.rows_read} metadata rows naming {self.images_listed} images; "
            f"{self.images_imported} imported into {self.manifest}, {self.images_missing} missing"
            + (f" (listed in {self.missing_list})" if self.images_missing else ""),
            "  skin type: " + ", ".join(f"{k} {v}" for k, v in self.fst_counts.items()),
            "  diagnosis: " + ", ".join(f"{k} {v}" for k, v in self.diagnosis_counts.items()),
        ]
        return "\n".join(lines + [f"  note: {note}" for note in self.notes])


# --- reading metadata -------------------------------------------------------------------------


def read_rows(path: Path, columns: Iterable[str], fmt: str, *, headerless: bool = False) -> list[tuple[str, dict[str, str]]]:
    """The rows of a metadata CSV as stripped text, each with its location.

    The csv module, not pandas: ids such as SCIN's "-5156441036700827606" and cells such as
    "NA" stay verbatim instead of turning into numbers or NaN. A UTF-8 BOM is accepted.
    ``headerless`` (ISIC 2016): the file has no header row; ``columns`` name its cells in order.
    """
    columns = tuple(columns)
    rows, issues = [], []
    refuse_private(path, "a metadata file")
    try:
        lines = csv_lines(path, MetadataError, "a metadata CSV")
        header = list(columns) if headerless else [name.strip() for name in next(lines, (0, []))[1]]
        absent = [c for c in columns if c not in header]
        if absent:
            problem = (
                f"column(s) missing; {fmt} metadata needs {', '.join(columns)}; "
                f"check that this is the right file for format {fmt}"
            )
            raise MetadataError(str(path), [ManifestIssue("header", ", ".join(absent), problem)])
        for index, (line, values) in enumerate(lines, start=1):
            if not any(v.strip() for v in values):
                continue
            location = f"row {index} (line {line})"
            if len(values) != len(header):
                expected = (f"{fmt} files have {len(header)} ({', '.join(header)})" if headerless
                            else f"the header has {len(header)} columns")
                problem = f"has {len(values)} cells but {expected}; fix the quoting or the commas on this line"
                issues.append(ManifestIssue(location, "-", problem))
                continue
            rows.append((location, {k: v.strip() for k, v in zip(header, values, strict=True)}))
    except FileNotFoundError:
        raise DatasetImportError(f"{path}: metadata file not found") from None
    if issues:
        raise MetadataError(str(path), issues)
    if not rows:
        raise MetadataError(str(path), [ManifestIssue("file", "-", "has no rows" if headerless else "has a header but no rows")])
    return rows


def only_file(metadata: list[Path], fmt: str) -> Path:
    if len(metadata) != 1:
        raise DatasetImportError(f"format {fmt} takes one metadata file, not {len(metadata)}")
    return metadata[0]


def map_rows(
    path: Path, rows: list[tuple[str, dict[str, str]]], to_sample: Callable[[dict[str, str]], Sample], id_column: str
) -> list[Sample]:
    """One Sample per row; every bad field and repeated id becomes an issue naming its row."""
    samples, issues, first_seen = [], [], {}
    for location, row in rows:
        try:
            sample = to_sample(row)
        except FieldError as exc:
            issues.append(ManifestIssue(location, exc.field, str(exc)))
            continue
        sample.location = location
        if sample.image_id in first_seen:
            issues.append(
                ManifestIssue(
                    location,
                    id_column,
                    f"repeats the image of {first_seen[sample.image_id]}; "
                    "each image may appear once, remove one of the rows",
                    sample.image_id,
                )
            )
            continue
        first_seen[sample.image_id] = location
        samples.append(sample)
    if issues:
        raise MetadataError(str(path), issues)
    return samples


def read_single(
    metadata: list[Path],
    fmt: str,
    columns: Iterable[str],
    id_column: str,
    to_sample: Callable[[dict[str, str]], Sample],
) -> Metadata:
    """Read a format whose one metadata file has one row per image."""
    path = only_file(metadata, fmt)
    rows = read_rows(path, columns, fmt)
    return Metadata([path], len(rows), map_rows(path, rows, to_sample, id_column))


def read_per_split(
    metadata: list[Path],
    fmt: str,
    columns: Iterable[str],
    id_column: str,
    to_sample: Callable[[dict[str, str]], Sample],
    *,
    headerless: bool = False,
) -> Metadata:
    """Read a challenge's ground-truth files, one per split (ISIC 2016-2018), into one Metadata.

    Each file's split comes from its official name (``..._Training_...`` → train, ``Validation``
    → val, ``Test`` → test); an image in two files is refused, naming both rows.
    """
    samples, notes, first_seen, issues, rows_read = [], [], {}, [], 0
    for path in metadata:
        rows = read_rows(path, columns, fmt, headerless=headerless)
        rows_read += len(rows)
        split = split_of(path)
        if not split:
            notes.append(f"{path.name}: the file name does not say the split (Training / Validation / Test); split left empty")
        for sample in map_rows(path, rows, to_sample, id_column):
            sample.split = split
            if sample.image_id in first_seen:
                issues.append(ManifestIssue(f"{path.name} {sample.location}", id_column,
                                            f"repeats the image of {first_seen[sample.image_id]}; an image belongs to one split",
                                            sample.image_id))
                continue
            first_seen[sample.image_id] = f"{path.name} {sample.location}"
            samples.append(sample)
    if issues:
        raise MetadataError(" and ".join(str(p) for p in metadata), issues)
    return Metadata(list(metadata), rows_read, samples, notes)


_SPLIT_WORDS = (("training", "train"), ("validation", "val"), ("test", "test"))


def split_of(path: Path) -> str:
    """The split an official ground-truth file name gives (``ISIC-2017_Validation_Part3_GroundTruth.csv`` → val), or ""."""
    words = set(path.stem.lower().replace("-", "_").split("_"))
    found = [split for word, split in _SPLIT_WORDS if word in words]
    return found[0] if len(found) == 1 else ""


# --- parsing one field ------------------------------------------------------------------------


def value(row: dict[str, str], column: str) -> str:
    """A cell that must not be empty."""
    if not row[column]:
        raise FieldError(column, "is empty; every row needs it")
    return row[column]


def lookup(table: dict, row: dict[str, str], column: str, fmt: str):
    """``table[cell]``, or an error that lists the values the format allows."""
    text = row[column]
    if text not in table:
        raise FieldError(
            column,
            f"{text!r} is not a {fmt} {column} value; expected one of "
            f"{', '.join(table)} (fix the row, or check the format)",
        )
    return table[text]


def parse_fst(text: str, column: str, unknown: str = "leave it empty") -> int:
    """A Fitzpatrick type written 1-6, or 1.0-6.0 as pandas writes a column with gaps."""
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not (number.is_integer() and 1 <= number <= 6):
        raise FieldError(
            column,
            f"{text!r} is not a Fitzpatrick skin type; write 1-6 for types I-VI, or {unknown} if it is not known",
        )
    return int(number)


def is_one(row: dict[str, str], column: str) -> bool:
    """A one-hot or 0/1 cell: "1.0"/"0.0" in the official ISIC files, "1"/"0" in some copies."""
    try:
        number = float(row[column])
    except ValueError:
        number = None
    if number not in (0.0, 1.0):
        raise FieldError(column, f"{row[column]!r} is not a one-hot value; write 1.0 or 0.0")
    return number == 1.0


def one_hot(row: dict[str, str], columns: Iterable[str]) -> str:
    """The one column of a one-hot row that is 1, or an error naming the columns."""
    columns = tuple(columns)
    hot = [column for column in columns if is_one(row, column)]
    if len(hot) != 1:
        raise FieldError(
            ", ".join(hot or columns),
            f"{len(hot)} class columns are 1.0; exactly one of {', '.join(columns)} must be 1.0 and the others 0.0",
        )
    return hot[0]


def one_hot_sample(row: dict[str, str], labels: dict[str, tuple[str, bool | None]]) -> Sample:
    """A row of an ISIC one-hot ground truth (``image`` plus one column per class)."""
    image = value(row, "image")
    label = one_hot(row, labels)
    diagnosis, malignant = labels[label]
    return Sample(image_id=image, file=f"{image}.jpg", diagnosis=diagnosis, malignant=malignant, dataset_label=label)


def parse_bool(text: str, column: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise FieldError(column, f"{text!r} is not True or False")
    return lowered == "true"


def bool_text(text: str, column: str) -> str:
    """A yes/no answer as "true"/"false", or "" where the dataset writes UNK or nothing."""
    if text in ("", "UNK"):
        return ""
    return "true" if parse_bool(text, column) else "false"


def age_text(text: str, column: str) -> str:
    """An age in whole years ("80.0" → "80"), or "" when the dataset leaves it empty."""
    if text == "":
        return ""
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not 0 <= number <= 130:
        raise FieldError(column, f"{text!r} is not an age in years; write a number or leave it empty")
    return str(int(number)) if number.is_integer() else text


def known(text: str) -> str:
    """The dataset's value, or "" where it writes that the value is unknown."""
    return "" if text.lower() in ("unknown", "unk") else text


def check_malignant(diagnosis: str, malignant: bool, column: str) -> None:
    """Refuse a row whose malignancy contradicts a diagnosis of fixed malignancy."""
    expected = MALIGNANCY.get(diagnosis)
    if expected is not None and malignant != expected:
        said, fixed = ("malignant", "benign") if malignant else ("benign", "malignant")
        raise FieldError(
            column,
            f"says {said}, but the diagnosis maps to {diagnosis}, which is "
            f"always {fixed}; correct whichever of the two is wrong",
        )


# --- finding images and writing ---------------------------------------------------------------


def check_paths(metadata: list[Path], images: list[Path], out: Path) -> None:
    """Refuse, before reading anything, image folders that do not exist and outputs that would overwrite the metadata."""
    for folder in images:
        if not folder.is_dir():
            raise ImportParameterError(f"{{images}} {folder}: no such folder; check {{images}}", "images")
    for output in (out, missing_list_path(out)):
        if any(output.resolve() == m.resolve() for m in metadata):
            raise ImportParameterError(f"{{out}} {out} would overwrite the metadata file {output}; choose another {{out}}", "out")


def missing_list_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.missing.csv")


def _listing(names: list[str]) -> str:
    more = f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
    return ", ".join(names[:_LISTED]) + more


class _ImageFinder:
    """Finds a sample's file under the ``images`` folders: at the path the metadata gives, else by
    name anywhere below (HAM10000 and PAD-UFES-20 ship their images in several part folders,
    ISIC 2017 one folder per split). Returns the file and the ``images`` folder it lies in."""

    def __init__(self, folders: list[Path]):
        self.folders = [folder.resolve() for folder in folders]
        self.by_name: dict[str, list[tuple[Path, Path]]] = {}
        for folder in self.folders:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    self.by_name.setdefault(path.name, []).append((path, folder))
        self.ambiguous: list[str] = []

    def find(self, name: str) -> tuple[Path, Path] | None:
        relative = PurePosixPath(name)
        found = []
        if not relative.is_absolute() and ".." not in relative.parts:
            found = [(folder / relative, folder) for folder in self.folders if (folder / relative).is_file()]
        found = found or self.by_name.get(relative.name, [])
        if len(found) > 1:
            self.ambiguous.append(" and ".join(str(p) for p, _ in found))
        return found[0] if len(found) == 1 else None


def _count(samples: list[Sample]) -> tuple[dict[str, int], dict[str, int]]:
    fst = Counter(str(s.fst) if s.fst is not None else s.fst_group or "unknown" for s in samples)
    diagnosis = Counter(s.diagnosis for s in samples)
    return ({k: fst[k] for k in _FST_KEYS if fst[k]}, {k: diagnosis[k] for k in DIAGNOSES if diagnosis[k]})


def _record(fmt: str, sample: Sample, image_root: str, image_path: str) -> dict:
    group = fst_group(sample.fst) if sample.fst is not None else sample.fst_group
    return {
        "image_id": sample.image_id,
        "image_root": image_root,
        "image_path": image_path,
        "diagnosis": sample.diagnosis,
        "malignant": sample.malignant,
        "fst": sample.fst,
        "fst_group": group,
        "fst_source": sample.fst_source,
        "source": "real",
        "dataset": fmt,
        "split": sample.split,
        "dataset_label": sample.dataset_label,
        "lesion_id": sample.lesion_id,
        "patient_id": sample.patient_id,
        **sample.extra,
    }


def _located(path: Path, folder: Path, manifest_folder: Path) -> tuple[str, str]:
    """(image_root, image_path) of a found file: relative to the manifest's folder where the
    images lie below it (manifest and images move together), else to their ``images`` folder.
    A file that links out of that folder is refused, as the manifest would refuse it."""
    root = manifest_folder if folder.is_relative_to(manifest_folder) else folder
    if not path.resolve().is_relative_to(root):
        raise ImportParameterError(f"{path} links to {path.resolve()}, outside {root}; copy the file in instead of linking it, "
                                   "or point {images} at the folder it links to", "images")
    return ("" if root == manifest_folder else str(root)), path.relative_to(root).as_posix()


def write_import(fmt: str, metadata: Metadata, images: list[Path], out: Path, *, strict: bool) -> ImportReport:
    """Locate every sample's image, then write the manifest and the missing list together.

    A file that is there but is not a readable image (Fitzpatrick17k's dead links often
    saved an HTML page as .jpg) counts as missing, with the reason in the missing list.
    Nothing is written into the image folders: they may be read-only.
    """
    finder = _ImageFinder(images)
    found, missing = [], []
    for sample in metadata.samples:
        located = finder.find(sample.file)
        if located is None:
            missing.append((sample, "not found"))
            continue
        try:
            check_image_header(located[0])
        except ImageFileError as exc:
            missing.append((sample, str(exc).removeprefix(f"{located[0]}: ")))
            continue
        found.append((sample, *located))
    sources = " and ".join(str(p) for p in metadata.paths)
    folders = " and ".join(str(p) for p in images)
    if finder.ambiguous:
        raise ImportParameterError(f"several files under {folders} have the same name, so the image is ambiguous: "
                                   f"{_listing(finder.ambiguous)}; point {{images}} at one copy", "images")
    if not found:
        raise ImportParameterError(
            f"none of the {len(metadata.samples)} images named in {sources} is under {folders} "
            f"(looked for {_listing([s.file for s, _ in missing])}); check {{images}}", "images"
        )
    if strict and missing:
        raise DatasetImportError(
            f"{len(missing)} of the {len(metadata.samples)} images named in {sources} are not under "
            f"{folders}: {_listing([f'{s.file} ({why})' for s, why in missing])}; add them, or import without strict "
            "to skip them and get a list of the missing ones"
        )
    manifest_folder = out.parent.resolve()
    records = [_record(fmt, sample, *_located(path, folder, manifest_folder)) for sample, path, folder in found]
    table = records_to_table(records, manifest_folder, check_files="exists", source=f"{fmt} import of {sources}")

    missing_list = missing_list_path(out)
    with atomic_file(missing_list, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["image_id", "expected_file", "metadata_row", "reason"])
        writer.writerows([s.image_id, s.file, s.location, why] for s, why in missing)
        write_manifest(table, out)  # inside, so the missing list is replaced only if this succeeds

    fst_counts, diagnosis_counts = _count(metadata.samples)
    return ImportReport(
        format=fmt,
        manifest=out,
        missing_list=missing_list,
        rows_read=metadata.rows_read,
        images_listed=len(metadata.samples),
        images_imported=len(found),
        images_missing=len(missing),
        fst_counts=fst_counts,
        diagnosis_counts=diagnosis_counts,
        notes=list(metadata.notes),
    )
