"""ISIC 2016 Part 3 (Gutman et al. 2016): benign or malignant, no header, one file per split.

``ISBI2016_ISIC_Part3_Training_GroundTruth.csv`` (900 images) writes ``ISIC_0000000,benign``;
``ISBI2016_ISIC_Part3_Test_GroundTruth.csv`` (379) writes ``ISIC_0000003,0.0`` (1.0 =
malignant). Either form is read from either file. The challenge gives no diagnosis beyond
malignancy (its malignant images are melanomas, its benign ones mostly nevi, but that is not
in the file), so every row is diagnosis ``other`` with ``malignant`` set and the original label
kept in ``dataset_label``. No skin type is recorded.
"""

from __future__ import annotations

from pathlib import Path

from .common import FieldError, Metadata, Sample, read_per_split, value

NAME = "isic2016"
COLUMNS = ("image_id", "label")
LABELS = {"benign": ("other", False), "malignant": ("other", True)}
_CELLS = {"benign": "benign", "malignant": "malignant", "0.0": "benign", "1.0": "malignant", "0": "benign", "1": "malignant"}


def read(metadata: list[Path]) -> Metadata:
    return read_per_split(metadata, NAME, COLUMNS, "image_id", _sample, headerless=True)


def _sample(row: dict[str, str]) -> Sample:
    image_id = value(row, "image_id")
    label = _CELLS.get(row["label"].lower())
    if label is None:
        raise FieldError("label", f"{row['label']!r} is not an ISIC 2016 label; the second cell is benign or malignant (or 0.0 / 1.0)")
    diagnosis, malignant = LABELS[label]
    return Sample(image_id=image_id, file=f"{image_id}.jpg", diagnosis=diagnosis, malignant=malignant, dataset_label=label)
