"""ISIC 2017 Part 3 (Codella et al. 2018): ``image_id,melanoma,seborrheic_keratosis``, one file per split.

The official ground truth comes as ``ISIC-2017_Training_Part3_GroundTruth.csv`` (2,000 images),
``ISIC-2017_Validation_Part3_GroundTruth.csv`` (150) and ``ISIC-2017_Test_v2_Part3_GroundTruth.csv``
(600); give one or all of them, and the images' folder(s) (the challenge ships one per split).
Each row's split comes from its file's name. Two 0/1 columns: melanoma, seborrheic keratosis,
and nevus where both are 0. No skin type is recorded.
"""

from __future__ import annotations

from pathlib import Path

from .common import FieldError, Metadata, Sample, is_one, read_per_split, value

NAME = "isic2017"
COLUMNS = ("image_id", "melanoma", "seborrheic_keratosis")
# dataset_label → (diagnosis, malignant); "nevus" is the row with both columns 0.
LABELS = {"melanoma": ("melanoma", True), "seborrheic_keratosis": ("seborrheic_keratosis", False), "nevus": ("nevus", False)}


def read(metadata: list[Path]) -> Metadata:
    return read_per_split(metadata, NAME, COLUMNS, "image_id", _sample)


def _sample(row: dict[str, str]) -> Sample:
    image_id = value(row, "image_id")
    melanoma, keratosis = is_one(row, "melanoma"), is_one(row, "seborrheic_keratosis")
    if melanoma and keratosis:
        raise FieldError("melanoma, seborrheic_keratosis", "are both 1.0; a lesion is melanoma, seborrheic keratosis or (both 0.0) nevus")
    label = "melanoma" if melanoma else "seborrheic_keratosis" if keratosis else "nevus"
    diagnosis, malignant = LABELS[label]
    return Sample(image_id=image_id, file=f"{image_id}.jpg", diagnosis=diagnosis, malignant=malignant, dataset_label=label)
