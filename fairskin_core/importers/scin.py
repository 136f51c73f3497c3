"""SCIN (Ward et al., JAMA Netw Open 2024): ``scin_cases.csv`` + ``scin_labels.csv`` on case_id.

A case is one contributor's skin condition with up to three photos (``image_1_path`` ...,
e.g. ``dataset/images/-2243186711511406658.png``); each photo becomes a manifest row, with the
case id as ``lesion_id`` so that splits keep a case together.

Skin type: ``fst`` is the median of the dermatologists' estimates
(``dermatologist_fitzpatrick_skin_type_label_1..3``, the lower middle one for two), so
``fst_source`` is "annotated"; the contributor's own answer is kept as ``self_reported_fst``.
Diagnosis: the condition with the highest weight in ``weighted_skin_condition_label`` (a Python
dict literal; ``{}`` for cases the dermatologists could not grade). Most conditions are rashes,
not lesions, and map to "other".
"""

from __future__ import annotations

import ast
import statistics
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from ..manifest import ManifestIssue
from .common import DatasetImportError, FieldError, Metadata, MetadataError, Sample, read_rows

NAME = "scin"
CASE_COLUMNS = ("case_id", "fitzpatrick_skin_type", "image_1_path", "image_2_path", "image_3_path")
_DERMATOLOGIST_FST = tuple(f"dermatologist_fitzpatrick_skin_type_label_{i}" for i in (1, 2, 3))
LABEL_COLUMNS = ("case_id", "weighted_skin_condition_label", *_DERMATOLOGIST_FST)
_NO_ESTIMATE = ("", "NONE_SELECTED", "NONE_IDENTIFIED")

# top condition (matched case-insensitively) → (diagnosis, malignant). SCIN gives no
# malignancy: a condition not listed here is "other" and recorded benign (SCIN's conditions are
# overwhelmingly rashes); a case no dermatologist could grade has malignancy unknown (empty). Actinic keratosis is
# pre-malignant and labelled apart from "SCC/SCCIS", so benign here.
LABELS = {
    "melanoma": ("melanoma", True),
    "basal cell carcinoma": ("basal_cell_carcinoma", True),
    "scc/sccis": ("squamous_cell_carcinoma", True),
    "actinic keratosis": ("actinic_keratosis", False),
    "sk/isk": ("seborrheic_keratosis", False),
    "seborrheic keratosis": ("seborrheic_keratosis", False),
    "melanocytic nevus": ("nevus", False),
    "dermatofibroma": ("dermatofibroma", False),
    "hemangioma": ("vascular_lesion", False),
    "cherry angioma": ("vascular_lesion", False),
    "pyogenic granuloma": ("vascular_lesion", False),
    "kaposi's sarcoma of skin": ("other", True),
}


class _Labels(NamedTuple):
    """What scin_labels.csv says about one case."""

    location: str
    condition: str
    estimates: list[int]  # the dermatologists' FST estimates
    monk_us: str
    monk_india: str


def read(metadata: list[Path]) -> Metadata:
    if len(metadata) != 2:
        raise DatasetImportError(
            f"format scin takes two metadata files, scin_cases.csv then scin_labels.csv, not {len(metadata)}"
        )
    cases_path, labels_path = metadata
    labels = _read_labels(labels_path)
    rows = read_rows(cases_path, CASE_COLUMNS, NAME)
    samples, issues, cases, seen, repeated = [], [], {}, {}, 0
    for location, row in rows:
        case_id = row["case_id"]
        try:
            if case_id in cases:
                raise FieldError("case_id", f"repeats the case of {cases[case_id]}; remove one row")
            cases[case_id] = location
            case_samples = _case_samples(row, labels.pop(case_id, None))
        except FieldError as exc:
            issues.append(ManifestIssue(location, exc.field, str(exc)))
            continue
        for sample in case_samples:
            sample.location = location
            if sample.image_id in seen:
                repeated += 1
                continue
            seen[sample.image_id] = location
            samples.append(sample)
    if issues:
        raise MetadataError(str(cases_path), issues)
    if labels:
        raise MetadataError(
            str(labels_path),
            [
                ManifestIssue(
                    location,
                    "case_id",
                    f"{case_id!r} is not in {cases_path.name}; every "
                    "labelled case needs its case row (check that both files are the same release)",
                )
                for case_id, (location, *_) in labels.items()
            ],
        )
    metadata = Metadata([cases_path, labels_path], len(rows), samples)
    if repeated:
        metadata.notes.append(
            f"{repeated} image(s) are listed by more than one case (a known SCIN duplication); each "
            "was imported once, with the labels of the first case that lists it"
        )
    return metadata


def _read_labels(path: Path) -> dict[str, _Labels]:
    labels, issues = {}, []
    for location, row in read_rows(path, LABEL_COLUMNS, NAME):
        case_id = row["case_id"]
        try:
            if not case_id:
                raise FieldError("case_id", "is empty; every row needs it")
            if case_id in labels:
                raise FieldError("case_id", f"repeats the case of {labels[case_id].location}; remove one row")
            estimates = [fst for column in _DERMATOLOGIST_FST if (fst := _fst(row[column], column)) is not None]
            labels[case_id] = _Labels(
                location,
                _top_condition(row["weighted_skin_condition_label"]),
                estimates,
                row.get("monk_skin_tone_label_us", ""),
                row.get("monk_skin_tone_label_india", ""),
            )
        except FieldError as exc:
            issues.append(ManifestIssue(location, exc.field, str(exc)))
    if issues:
        raise MetadataError(str(path), issues)
    return labels


def _fst(text: str, column: str) -> int | None:
    """FST1..FST6 → 1..6; no estimate → None."""
    if text in _NO_ESTIMATE:
        return None
    if text not in {f"FST{t}" for t in range(1, 7)}:
        raise FieldError(
            column,
            f"{text!r} is not a SCIN skin type; expected FST1-FST6 or {', '.join(repr(v) for v in _NO_ESTIMATE)}",
        )
    return int(text[3:])


def _top_condition(text: str) -> str:
    """The most weighted condition of e.g. "{'Eczema': 0.69, 'Psoriasis': 0.31}"; "" for {}."""
    column = "weighted_skin_condition_label"
    try:
        weights = ast.literal_eval(text) if text else {}
    except (ValueError, SyntaxError):
        weights = None
    if not isinstance(weights, dict) or not all(
        isinstance(k, str) and isinstance(v, (int, float)) for k, v in weights.items()
    ):
        raise FieldError(
            column,
            f"{text!r} is not a dict of condition weights such as "
            "{'Eczema': 0.7, 'Psoriasis': 0.3} (or {} for none)",
        )
    return max(weights, key=weights.get) if weights else ""


def _case_samples(row: dict[str, str], labels: _Labels | None) -> list[Sample]:
    case_id = row["case_id"]
    if not case_id:
        raise FieldError("case_id", "is empty; every row needs it")
    if labels is None:
        raise FieldError(
            "case_id", f"{case_id!r} has no row in scin_labels.csv; check that both files are the same release"
        )
    self_reported = _fst(row["fitzpatrick_skin_type"], "fitzpatrick_skin_type")
    # Ungraded cases ({} weights) say nothing about malignancy; graded ones not listed are rashes.
    diagnosis, malignant = LABELS.get(labels.condition.lower(), ("other", False if labels.condition else None))
    fst = statistics.median_low(labels.estimates) if labels.estimates else None
    samples = []
    for slot in (1, 2, 3):
        path = row[f"image_{slot}_path"]
        if not path:
            continue
        samples.append(
            Sample(
                image_id=PurePosixPath(path).stem,
                file=path,
                diagnosis=diagnosis,
                malignant=malignant,
                dataset_label=labels.condition,
                fst=fst,
                fst_source="annotated" if fst is not None else "",
                lesion_id=case_id,
                extra={
                    "self_reported_fst": str(self_reported or ""),
                    "dermatologist_fst": ";".join(str(e) for e in labels.estimates),
                    "age_group": row.get("age_group", ""),
                    "sex": row.get("sex_at_birth", "").lower(),
                    "shot_type": row.get(f"image_{slot}_shot_type", ""),
                    "monk_skin_tone_us": labels.monk_us,
                    "monk_skin_tone_india": labels.monk_india,
                },
            )
        )
    return samples
