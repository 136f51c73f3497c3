"""PAD-UFES-20 (Pacheco et al., Data in Brief 2020): ``metadata.csv``, smartphone photos.

The skin type column is spelled ``fitspatrick`` and holds 1.0-6.0, or nothing for the patients
whose clinical data was not collected. Yes/no answers are True, False, UNK or empty.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from .common import Metadata, Sample, age_text, bool_text, lookup, parse_fst, read_single, value

NAME = "pad-ufes-20"
_ANSWERS = ("itch", "grew", "hurt", "changed", "bleed", "elevation")
COLUMNS = (
    "patient_id",
    "lesion_id",
    "fitspatrick",
    "diagnostic",
    "img_id",
    "age",
    "gender",
    "region",
    "biopsed",
    *_ANSWERS,
)

# diagnostic → (diagnosis, malignant): the dataset's own skin-cancer split (BCC, MEL, SCC;
# SCC includes Bowen's disease). Actinic keratosis (ACK) is a non-cancer class there.
LABELS = {
    "ACK": ("actinic_keratosis", False),
    "BCC": ("basal_cell_carcinoma", True),
    "MEL": ("melanoma", True),
    "NEV": ("nevus", False),
    "SCC": ("squamous_cell_carcinoma", True),
    "SEK": ("seborrheic_keratosis", False),
}


def read(metadata: list[Path]) -> Metadata:
    return read_single(metadata, NAME, COLUMNS, "img_id", _sample)


def _sample(row: dict[str, str]) -> Sample:
    file = value(row, "img_id")
    diagnosis, malignant = lookup(LABELS, row, "diagnostic", NAME)
    fst = parse_fst(row["fitspatrick"], "fitspatrick") if row["fitspatrick"] else None
    return Sample(
        image_id=PurePosixPath(file).stem,
        file=file,
        diagnosis=diagnosis,
        malignant=malignant,
        dataset_label=row["diagnostic"],
        fst=fst,
        fst_source="annotated" if fst is not None else "",
        lesion_id=row["lesion_id"],
        patient_id=row["patient_id"],
        extra={
            "age": age_text(row["age"], "age"),
            "sex": row["gender"].lower(),
            "anatomical_site": row["region"],
            "biopsied": bool_text(row["biopsed"], "biopsed"),
            **{answer: bool_text(row[answer], answer) for answer in _ANSWERS},
        },
    )
