"""ISIC 2018 Task 3: ``image,MEL,NV,BCC,AKIEC,BKL,DF,VASC``, one-hot, one file per split.

``ISIC2018_Task3_Training_GroundTruth.csv`` (10,015 images: HAM10000 itself), and the
``..._Validation_GroundTruth.csv`` / ``..._Test_GroundTruth.csv`` released after the challenge.
The classes are HAM10000's, so they map exactly as the ham10000 importer maps its ``dx``
codes (see that module for why AKIEC is malignant and BKL is seborrheic_keratosis). Each
row's split comes from its file's name. No skin type is recorded.
"""

from __future__ import annotations

from pathlib import Path

from . import ham10000
from .common import Metadata, one_hot_sample, read_per_split

NAME = "isic2018"
LABELS = {column: ham10000.LABELS[column.lower()] for column in ("MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC")}
COLUMNS = ("image", *LABELS)


def read(metadata: list[Path]) -> Metadata:
    return read_per_split(metadata, NAME, COLUMNS, "image", lambda row: one_hot_sample(row, LABELS))

