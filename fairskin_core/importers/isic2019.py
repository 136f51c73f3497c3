"""ISIC 2019 training ground truth: ``ISIC_2019_Training_GroundTruth.csv``, one-hot per image.

Image names keep the archive's ``_downsampled`` suffix (e.g. ``ISIC_0000017_downsampled``),
which is also in the file name, so they are used verbatim. No skin type is recorded.
"""

from __future__ import annotations

from pathlib import Path

from .common import FieldError, Metadata, Sample, read_single, value

NAME = "isic2019"

# class column → (diagnosis, malignant). AK is counted malignant, as HAM10000 (the source of
# most AK images) does for its "akiec"; BKL is the benign keratosis class our vocabulary calls
# seborrheic_keratosis. UNK ("none of the others") says nothing about malignancy, so it is
# left unknown (empty); no training image has it.
LABELS = {
    "MEL": ("melanoma", True),
    "NV": ("nevus", False),
    "BCC": ("basal_cell_carcinoma", True),
    "AK": ("actinic_keratosis", True),
    "BKL": ("seborrheic_keratosis", False),
    "DF": ("dermatofibroma", False),
    "VASC": ("vascular_lesion", False),
    "SCC": ("squamous_cell_carcinoma", True),
    "UNK": ("other", None),
}
COLUMNS = ("image", *LABELS)


def read(metadata: list[Path]) -> Metadata:
    return read_single(metadata, NAME, COLUMNS, "image", _sample)


def _is_one(row: dict[str, str], column: str) -> bool:
    """A one-hot cell: "1.0"/"0.0" in the official file, "1"/"0" in some copies."""
    try:
        number = float(row[column])
    except ValueError:
        number = None
    if number not in (0.0, 1.0):
        raise FieldError(column, f"{row[column]!r} is not a one-hot value; write 1.0 or 0.0")
    return number == 1.0


def _sample(row: dict[str, str]) -> Sample:
    image = value(row, "image")
    hot = [column for column in LABELS if _is_one(row, column)]
    if len(hot) != 1:
        columns = ", ".join(hot or LABELS)
        raise FieldError(
            columns,
            f"{len(hot)} class columns are 1.0; exactly one of {', '.join(LABELS)} must be 1.0 and the others 0.0",
        )
    diagnosis, malignant = LABELS[hot[0]]
    return Sample(image_id=image, file=f"{image}.jpg", diagnosis=diagnosis, malignant=malignant, dataset_label=hot[0])
