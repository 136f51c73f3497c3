"""ISIC 2020 (SIIM-ISIC): ``ISIC_2020_Training_GroundTruth.csv``, one row per image.

Malignancy is the dataset's own: ``benign_malignant`` and ``target`` (1 = malignant) must agree.
Most images have diagnosis "unknown" (benign by clinical follow-up, not histology).
"""

from __future__ import annotations

from pathlib import Path

from .common import FieldError, Metadata, Sample, age_text, check_malignant, lookup, read_single, value

NAME = "isic2020"
COLUMNS = (
    "image_name",
    "patient_id",
    "sex",
    "age_approx",
    "anatom_site_general_challenge",
    "diagnosis",
    "benign_malignant",
    "target",
)

# diagnosis (spelled as in the file) → (diagnosis, malignant); None: from benign_malignant.
# Solar lentigo and lichenoid keratosis join seborrheic keratosis in the benign keratosis
# class, as in HAM10000 / ISIC 2019 "BKL"; lentigo NOS is not said to be solar, so other.
LABELS = {
    "unknown": ("other", None),
    "nevus": ("nevus", None),
    "melanoma": ("melanoma", None),
    "seborrheic keratosis": ("seborrheic_keratosis", None),
    "lentigo NOS": ("other", None),
    "lichenoid keratosis": ("seborrheic_keratosis", None),
    "solar lentigo": ("seborrheic_keratosis", None),
    "cafe-au-lait macule": ("other", None),
    "atypical melanocytic proliferation": ("other", None),
}
_BENIGN_MALIGNANT = {"benign": False, "malignant": True}
_TARGET = {"0": False, "1": True}


def read(metadata: list[Path]) -> Metadata:
    return read_single(metadata, NAME, COLUMNS, "image_name", _sample)


def _sample(row: dict[str, str]) -> Sample:
    image = value(row, "image_name")
    diagnosis, _ = lookup(LABELS, row, "diagnosis", NAME)
    malignant = lookup(_BENIGN_MALIGNANT, row, "benign_malignant", NAME)
    if lookup(_TARGET, row, "target", NAME) != malignant:
        raise FieldError(
            "target",
            f"{row['target']!r} disagrees with benign_malignant "
            f"{row['benign_malignant']!r} (1 means malignant); correct one of them",
        )
    check_malignant(diagnosis, malignant, "benign_malignant")
    return Sample(
        image_id=image,
        file=f"{image}.jpg",
        diagnosis=diagnosis,
        malignant=malignant,
        dataset_label=row["diagnosis"],
        patient_id=row["patient_id"],
        extra={
            "age": age_text(row["age_approx"], "age_approx"),
            "sex": row["sex"].lower(),
            "anatomical_site": row["anatom_site_general_challenge"],
        },
    )
