"""ISIC 2019 training ground truth: ``ISIC_2019_Training_GroundTruth.csv``, one-hot per image.

Image names keep the archive's ``_downsampled`` suffix (e.g. ``ISIC_0000017_downsampled``),
which is also in the file name, so they are used verbatim. No skin type is recorded.
"""

from __future__ import annotations

from pathlib import Path

from .common import Metadata, one_hot_sample, read_single

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
    return read_single(metadata, NAME, COLUMNS, "image", lambda row: one_hot_sample(row, LABELS))

